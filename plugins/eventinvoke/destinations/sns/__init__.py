"""The ``sns`` destination: records and dead-letter messages to SNS standard topics
(docs/aws-behaviour.md §4.2, §5.2).

* OnSuccess / OnFailure: ``Publish`` with ``Message`` = the record JSON (AWS's key order), and no
  message attributes. SNS takes at most 256 KB (262144 bytes) per message; when the record is
  larger, Lambda drops the payloads, and so do we: the record is sent **without its
  ``requestPayload`` and ``responsePayload`` keys** (``version``, ``timestamp``,
  ``requestContext`` and ``responseContext`` are kept). Which fields AWS removes is not
  documented; these two are what makes a record large.
* Dead-letter (``DeadLetterConfig.TargetArn`` is a topic): ``Message`` = the original event,
  unchanged, with the ``RequestID`` (String), ``ErrorCode`` (Number) and ``ErrorMessage``
  (String, first 1 KB) message attributes. An event that no longer fits in 256 KB with its
  attributes cannot be sent (AWS counts a ``DeadLetterErrors`` then, as we do).

FIFO topics (``.fifo``) are refused, as AWS refuses them. A missing topic or access denied is a
permanent failure; throttling and 5xx are retried by the Router.

Settings (``[destinations.sns]``): see ``eventinvoke.destinations._aws``.
"""

from __future__ import annotations

import json

from eventinvoke.destinations._aws import (
    AWS_SETTINGS,
    Arn,
    AwsClients,
    Message,
    classify,
    dead_letter_message,
)
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    Delivery,
    ExecutionRecord,
    PermanentDeliveryError,
    RouterContext,
    hookimpl,
)

MESSAGE_LIMIT = 262_144  # bytes, message body plus attributes
DROPPED_WHEN_OVERSIZE = ("requestPayload", "responsePayload")


def record_message(record: ExecutionRecord) -> str:
    """The record JSON; without its payloads when it would not fit in one SNS message."""
    text = record.to_json()
    if len(text.encode()) <= MESSAGE_LIMIT:
        return text
    trimmed = {k: v for k, v in record.to_dict().items() if k not in DROPPED_WHEN_OVERSIZE}
    return json.dumps(trimmed, separators=(",", ":"), ensure_ascii=False)


class SnsDestination:
    name = "sns"

    def __init__(self, context: RouterContext) -> None:
        self.clients = AwsClients(
            "sns", context.settings_for("sns", AWS_SETTINGS), context.partition.region
        )

    def claims(self, target: str) -> bool:
        arn = Arn.parse(target)
        return arn is not None and arn.service == "sns" and bool(arn.resource)

    async def deliver(self, delivery: Delivery) -> None:
        arn = Arn.parse(delivery.target)
        assert arn is not None
        if arn.resource.endswith(".fifo"):
            raise PermanentDeliveryError(
                f"{delivery.target}: FIFO topics are not supported as destinations or "
                "dead-letter queues"
            )
        if delivery.kind == DEAD_LETTER:
            message = dead_letter_message(delivery.target, delivery.record)
        else:
            message = Message(body=record_message(delivery.record), attributes={})
        if message.size > MESSAGE_LIMIT:
            raise PermanentDeliveryError(
                f"{delivery.target}: the message is {message.size} bytes with its attributes; "
                f"SNS takes at most {MESSAGE_LIMIT}"
            )
        try:
            client = await self.clients.get(arn.region or None)
            if message.attributes:
                await client.publish(
                    TopicArn=delivery.target,
                    Message=message.body,
                    MessageAttributes=message.attributes,
                )
            else:
                await client.publish(TopicArn=delivery.target, Message=message.body)
        except Exception as error:
            raise classify(delivery.target, error) from error

    async def close(self) -> None:
        await self.clients.close()


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(SnsDestination(context))
