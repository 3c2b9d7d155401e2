"""The ``eventbridge`` destination: records to an EventBridge event bus
(docs/aws-behaviour.md §4.2).

One ``PutEvents`` entry per record, as Lambda sends it:

* ``Source``: ``lambda`` (what AWS emits, and what users' rules match; not ``aws.lambda``);
* ``DetailType``: ``Lambda Function Invocation Result - Success`` or ``... - Failure``, with a
  plain ASCII hyphen-minus;
* ``Detail``: the record JSON;
* ``Resources``: ``[<event-bus ARN>, <qualified function ARN>]``, in that order;
* ``EventBusName``: the bus's ARN.

A rule's target then sees the usual envelope (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time``, ``region``, ``resources``, ``detail``). A missing bus, access denied or an
entry EventBridge refuses is a permanent failure; throttling and internal failures, whether of
the call or of the entry, are retried by the Router. An event bus cannot be a dead-letter queue.

Settings (``[destinations.eventbridge]``): see ``eventinvoke.destinations._aws``.
"""

from __future__ import annotations

from eventinvoke.destinations._aws import AWS_SETTINGS, Arn, AwsClients, classify, failure
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    ON_SUCCESS,
    Delivery,
    PermanentDeliveryError,
    RouterContext,
    hookimpl,
)

SOURCE = "lambda"
DETAIL_TYPE_SUCCESS = "Lambda Function Invocation Result - Success"
DETAIL_TYPE_FAILURE = "Lambda Function Invocation Result - Failure"


class EventBridgeDestination:
    name = "eventbridge"

    def __init__(self, context: RouterContext) -> None:
        # botocore's service name for EventBridge is "events" (AWS_ENDPOINT_URL_EVENTBRIDGE).
        self.clients = AwsClients(
            "events", context.settings_for("eventbridge", AWS_SETTINGS), context.partition.region
        )

    def claims(self, target: str) -> bool:
        arn = Arn.parse(target)
        return (
            arn is not None
            and arn.service == "events"
            and arn.resource.startswith("event-bus/")
            and len(arn.resource) > len("event-bus/")
        )

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.kind == DEAD_LETTER:
            raise PermanentDeliveryError(
                f"{delivery.target}: an event bus cannot be a dead-letter queue"
            )
        arn = Arn.parse(delivery.target)
        assert arn is not None
        record = delivery.record
        success = delivery.kind == ON_SUCCESS
        entry = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE_SUCCESS if success else DETAIL_TYPE_FAILURE,
            "Detail": record.to_json(),
            "Resources": [delivery.target, record.function_arn],
            "EventBusName": delivery.target,
        }
        try:
            client = await self.clients.get(arn.region or None)
            response = await client.put_events(Entries=[entry])
        except Exception as error:
            raise classify(delivery.target, error) from error
        if response.get("FailedEntryCount"):
            [result] = response["Entries"]
            code = str(result.get("ErrorCode", "Unknown"))
            # Per-entry codes carry no status: InternalFailure and ThrottlingException pass.
            raise failure(delivery.target, code, str(result.get("ErrorMessage", "")), 400)

    async def close(self) -> None:
        await self.clients.close()


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(EventBridgeDestination(context))
