"""Execution records and deliveries between domain and protobuf (the Router's API)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from eventinvoke.core.model import (
    DEAD_LETTER,
    ON_FAILURE,
    ON_SUCCESS,
    Delivery,
    ExecutionRecord,
    FailedDelivery,
)
from eventinvoke.v1 import record_pb2
from eventinvoke.v1 import router_service_pb2 as router_pb2

KINDS = {
    ON_SUCCESS: router_pb2.DELIVERY_KIND_ON_SUCCESS,
    ON_FAILURE: router_pb2.DELIVERY_KIND_ON_FAILURE,
    DEAD_LETTER: router_pb2.DELIVERY_KIND_DEAD_LETTER,
}
KIND_NAMES = {v: k for k, v in KINDS.items()}


def record_to_pb(record: ExecutionRecord) -> record_pb2.ExecutionRecord:
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromDatetime(record.timestamp)
    message = record_pb2.ExecutionRecord(
        version="1.0",
        timestamp=timestamp,
        request_context=record_pb2.RequestContext(
            request_id=record.request_id,
            function_arn=record.function_arn,
            condition=record.condition,
            approximate_invoke_count=record.approximate_invoke_count,
        ),
        request_payload=record.request_payload,
    )
    if record.executed_version is not None:
        message.response_context.status_code = record.status_code
        message.response_context.executed_version = record.executed_version
        if record.function_error:
            message.response_context.function_error = record.function_error
    if record.response_payload is not None:
        message.response_payload = record.response_payload
    return message


def record_from_pb(message: record_pb2.ExecutionRecord) -> ExecutionRecord:
    context = message.request_context
    ran = message.HasField("response_context")
    response = message.response_context
    return ExecutionRecord(
        request_id=context.request_id,
        function_arn=context.function_arn,
        condition=context.condition,
        approximate_invoke_count=context.approximate_invoke_count,
        request_payload=message.request_payload,
        timestamp=message.timestamp.ToDatetime(tzinfo=UTC),
        executed_version=response.executed_version if ran else None,
        function_error=response.function_error
        if ran and response.HasField("function_error")
        else None,
        response_payload=message.response_payload if message.HasField("response_payload") else None,
        status_code=response.status_code if ran else 200,
    )


def failed_to_pb(failed: FailedDelivery) -> router_pb2.FailedDelivery:
    fail_time = timestamp_pb2.Timestamp()
    fail_time.FromDatetime(datetime.fromtimestamp(failed.failed_at, UTC))
    delivery: Delivery = failed.delivery
    return router_pb2.FailedDelivery(
        delivery_id=delivery.delivery_id,
        destination=router_pb2.Destination(target=delivery.target, kind=KINDS[delivery.kind]),
        record=record_to_pb(delivery.record),
        reason=failed.reason,
        attempts=delivery.attempts,
        fail_time=fail_time,
    )
