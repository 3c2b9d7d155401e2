"""Domain ↔ protobuf for the Invoker's messages."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from eventinvoke.core.errors import LambdaError
from eventinvoke.core.model import FAILED, SUCCEEDED, Alias, EventInvokeConfig, FunctionConfig
from eventinvoke.invoker.event_invoke_configs import ConfigChanges, DestinationChanges, Outcome
from eventinvoke.invoker.history import InvocationReport
from eventinvoke.invoker.invocations import InvokeResult
from eventinvoke.router.messages import KINDS
from eventinvoke.server.status import error_info, grpc_code
from eventinvoke.v1 import function_pb2
from eventinvoke.v1 import invoker_service_pb2 as invoker_pb2
from eventinvoke.v1 import router_service_pb2 as router_pb2


def function_to_pb(
    function: FunctionConfig, arn: str | None = None
) -> function_pb2.FunctionConfiguration:
    """``arn`` overrides the unqualified ARN (a version's or alias's qualified one)."""
    message = function_pb2.FunctionConfiguration(
        function_name=function.name,
        function_arn=arn or function.arn,
        runtime=function.runtime,
        handler=function.handler,
        role=function.role,
        timeout=function.timeout,
        memory_size=function.memory_size,
        environment=function.environment,
        code_sha256=function.code_sha256,
        code_size=function.code_size,
        last_modified=function.last_modified,
        version=function.version,
        description=function.description,
        state="Active",
        revision_id=function.revision_id,
    )
    if function.dead_letter_target_arn:
        message.dead_letter_target_arn = function.dead_letter_target_arn
    return message


def alias_to_pb(alias: Alias, arn: str) -> invoker_pb2.AliasConfiguration:
    return invoker_pb2.AliasConfiguration(
        alias_arn=arn,
        name=alias.name,
        function_version=alias.function_version,
        description=alias.description,
        revision_id=alias.revision_id,
    )


def config_to_pb(config: EventInvokeConfig, arn: str) -> function_pb2.FunctionEventInvokeConfig:
    message = function_pb2.FunctionEventInvokeConfig(
        function_arn=arn, last_modified=config.last_modified
    )
    if config.maximum_retry_attempts is not None:
        message.maximum_retry_attempts = config.maximum_retry_attempts
    if config.maximum_event_age_in_seconds is not None:
        message.maximum_event_age_in_seconds = config.maximum_event_age_in_seconds
    message.destination_config.on_success.SetInParent()
    message.destination_config.on_failure.SetInParent()
    if config.on_success:
        message.destination_config.on_success.destination = config.on_success
    if config.on_failure:
        message.destination_config.on_failure.destination = config.on_failure
    return message


def config_changes_from_pb(
    request: invoker_pb2.PutFunctionEventInvokeConfigRequest
    | invoker_pb2.UpdateFunctionEventInvokeConfigRequest,
) -> ConfigChanges:
    """Put and Update share these fields; proto3 presence says what was given."""
    destination_config = None
    if request.HasField("destination_config"):
        given = request.destination_config
        destination_config = DestinationChanges(
            on_success=_outcome(given, "on_success"), on_failure=_outcome(given, "on_failure")
        )
    return ConfigChanges(
        maximum_retry_attempts=request.maximum_retry_attempts
        if request.HasField("maximum_retry_attempts")
        else None,
        maximum_event_age_in_seconds=request.maximum_event_age_in_seconds
        if request.HasField("maximum_event_age_in_seconds")
        else None,
        destination_config=destination_config,
    )


def _outcome(config: function_pb2.DestinationConfig, field: str) -> Outcome | None:
    if not config.HasField(field):
        return None
    side = getattr(config, field)
    return Outcome(side.destination if side.HasField("destination") else None)


def invoke_result_to_pb(result: InvokeResult) -> invoker_pb2.InvokeResponse:
    return invoker_pb2.InvokeResponse(
        status_code=result.status_code,
        request_id=result.request_id,
        payload=result.payload,
        function_error=result.function_error or "",
        executed_version=result.executed_version,
        log_result=base64.b64encode(result.log_tail[-4096:]).decode()
        if result.log_tail is not None
        else "",
    )


def invoke_error_to_pb(error: LambdaError) -> invoker_pb2.InvokeError:
    """What ``to_status`` would put in Invoke's status, for one invocation of a batch."""
    info = error_info(error)
    return invoker_pb2.InvokeError(
        code=grpc_code(error).value[0],
        message=error.message,
        reason=info.reason,
        metadata=info.metadata,
    )


def invocation_to_pb(report: InvocationReport, arn: str) -> invoker_pb2.GetInvocationResponse:
    """``arn``: the function's, qualified as it was invoked."""
    message = invoker_pb2.GetInvocationResponse(
        request_id=report.request_id,
        function_arn=arn,
        status=report.status,
        condition=report.condition or "",
        enqueue_time=_timestamp(report.enqueued_at),
        attempts=[
            invoker_pb2.InvocationAttempt(
                outcome=SUCCEEDED if attempt.function_error is None else FAILED,
                start_time=_timestamp(attempt.started_at),
                end_time=_timestamp(attempt.ended_at),
                function_error=attempt.function_error or "",
                error_type=attempt.error_type,
                error_message=attempt.error_message,
            )
            for attempt in report.attempts
        ],
        deliveries=[
            invoker_pb2.InvocationDelivery(
                destination=router_pb2.Destination(
                    target=delivery.handover.target, kind=KINDS[delivery.handover.kind]
                ),
                status=delivery.state,
                delivery_id=delivery.handover.delivery_id,
                request_id=delivery.handover.request_id,
                attempts=delivery.attempts,
                reason=delivery.reason,
            )
            for delivery in report.deliveries
        ],
    )
    if report.next_attempt_at is not None:
        message.next_attempt_time.CopyFrom(_timestamp(report.next_attempt_at))
    if report.settled_at is not None:
        message.end_time.CopyFrom(_timestamp(report.settled_at))
    return message


def _timestamp(epoch_seconds: float) -> timestamp_pb2.Timestamp:
    timestamp = timestamp_pb2.Timestamp()
    timestamp.FromDatetime(datetime.fromtimestamp(epoch_seconds, UTC))
    return timestamp
