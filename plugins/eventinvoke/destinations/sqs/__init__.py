"""The ``sqs`` destination: records and dead-letter messages to SQS standard queues
(docs/aws-behaviour.md §4.2, §5.2).

* OnSuccess / OnFailure: ``SendMessage`` with ``MessageBody`` = the record JSON (AWS's key order),
  and no message attributes.
* Dead-letter (``DeadLetterConfig.TargetArn`` is a queue): ``MessageBody`` = the original event,
  byte for byte, with the ``RequestID`` (String), ``ErrorCode`` (Number) and ``ErrorMessage``
  (String, first 1 KB) attributes.
* With tracing on, either carries the delivery's trace as the ``AWSTraceHeader`` system
  attribute, in X-Ray's form, as AWS services that send to SQS do.

Deliveries for one queue that are waiting at the same time go out as one ``SendMessageBatch``
(≤ 10 entries, ≤ 256 KiB together); each delivery still succeeds or fails on its own entry.
The queue URL comes from ``GetQueueUrl`` (name and owner account from the ARN), once per queue.
FIFO queues (``.fifo``) are refused, as AWS refuses them for destinations and DLQs; a missing
queue, access denied or an oversize message are permanent failures; throttling and 5xx are
retried by the Router.

Settings (``[destinations.sqs]``): see ``eventinvoke.destinations._aws``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eventinvoke.destinations._aws import (
    AWS_SETTINGS,
    Arn,
    AwsClients,
    Message,
    classify,
    dead_letter_message,
    failure,
)
from eventinvoke.destinations.sqs._batch import Coalescer
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    Delivery,
    PermanentDeliveryError,
    RouterContext,
    hookimpl,
    traceparent,
    xray_header,
)

MISSING_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
BATCH_BYTES = 262_144  # SendMessageBatch's limit on the sum of its messages


@dataclass(frozen=True)
class _Entry:
    target: str
    message: Message


class SqsDestination:
    name = "sqs"

    def __init__(self, context: RouterContext) -> None:
        self.clients = AwsClients(
            "sqs", context.settings_for("sqs", AWS_SETTINGS), context.partition.region
        )
        self._queue_urls: dict[tuple[str, str, str], asyncio.Future[str]] = {}
        # Keyed by (region, queue URL).
        self._batches: Coalescer[tuple[str, str], _Entry] = Coalescer(
            self._send, max_entries=10, max_bytes=BATCH_BYTES
        )

    def claims(self, target: str) -> bool:
        arn = Arn.parse(target)
        return arn is not None and arn.service == "sqs" and bool(arn.resource)

    async def deliver(self, delivery: Delivery) -> None:
        arn = Arn.parse(delivery.target)
        assert arn is not None
        if arn.resource.endswith(".fifo"):
            raise PermanentDeliveryError(
                f"{delivery.target}: FIFO queues are not supported as destinations or "
                "dead-letter queues"
            )
        if delivery.kind == DEAD_LETTER:
            message = dead_letter_message(delivery.target, delivery.record)
        else:
            message = Message(body=delivery.record.to_json(), attributes={})
        trace_header = xray_header(traceparent())  # the delivery's span
        if trace_header:
            message = replace(message, trace_header=trace_header)
        try:
            url = await self._queue_url(arn)
        except Exception as error:
            raise classify(delivery.target, error) from error
        await self._batches.submit(
            (arn.region, url), _Entry(delivery.target, message), message.size
        )

    async def _queue_url(self, arn: Arn) -> str:
        """``GetQueueUrl`` once per queue; deliveries arriving meanwhile share the lookup."""
        key = (arn.region, arn.account, arn.resource)
        lookup = self._queue_urls.get(key)
        if lookup is None:
            lookup = self._queue_urls[key] = asyncio.ensure_future(self._get_queue_url(arn))
        try:
            return await asyncio.shield(lookup)
        except Exception:
            if self._queue_urls.get(key) is lookup:  # not cached: the queue may appear later
                del self._queue_urls[key]
            raise

    async def _get_queue_url(self, arn: Arn) -> str:
        client = await self.clients.get(arn.region or None)
        response = await client.get_queue_url(
            QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account
        )
        return str(response["QueueUrl"])

    async def _send(
        self, key: tuple[str, str], entries: Sequence[_Entry]
    ) -> list[BaseException | None]:
        region, url = key
        try:
            client = await self.clients.get(region or None)
            if len(entries) == 1:
                await client.send_message(QueueUrl=url, **_fields(entries[0].message))
                return [None]
            response = await client.send_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(index), **_fields(entry.message)}
                    for index, entry in enumerate(entries)
                ],
            )
        except Exception as error:
            if _is_missing_queue(error):
                self._forget(url)
            return [classify(entry.target, error) for entry in entries]
        results: list[BaseException | None] = [None] * len(entries)
        for failed in response.get("Failed", []):
            index = int(failed["Id"])
            code = str(failed.get("Code", "Unknown"))
            status = 400 if failed.get("SenderFault") else 500
            results[index] = failure(
                entries[index].target, code, str(failed.get("Message", "")), status
            )
        return results

    def _forget(self, url: str) -> None:
        """A queue deleted since its URL was cached: look it up again next time."""
        for key, lookup in list(self._queue_urls.items()):
            if (
                lookup.done()
                and not lookup.cancelled()
                and lookup.exception() is None
                and lookup.result() == url
            ):
                del self._queue_urls[key]

    async def close(self) -> None:
        for lookup in self._queue_urls.values():
            lookup.cancel()
        self._queue_urls.clear()
        await self._batches.close()
        await self.clients.close()


def _fields(message: Message) -> dict[str, Any]:
    fields: dict[str, Any] = {"MessageBody": message.body}
    if message.attributes:
        fields["MessageAttributes"] = message.attributes
    if message.trace_header:
        fields["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": message.trace_header}
        }
    return fields


def _is_missing_queue(error: BaseException) -> bool:
    from botocore.exceptions import ClientError  # loaded by the call that failed

    return (
        isinstance(error, ClientError)
        and error.response.get("Error", {}).get("Code") in MISSING_QUEUE_CODES
    )


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(SqsDestination(context))
