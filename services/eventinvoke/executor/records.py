"""Building the execution record and choosing where it goes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from eventinvoke.core.model import (
    DEAD_LETTER,
    LATEST,
    ON_FAILURE,
    ON_SUCCESS,
    RECURSIVE_INVOCATION,
    SUCCESS,
    EventInvokeConfig,
    ExecutionRecord,
    FunctionConfig,
    LastAttempt,
    Lineage,
    QueuedEvent,
)
from eventinvoke.executor.sandbox import Outcome


def build_record(
    event: QueuedEvent,
    function: FunctionConfig,
    condition: str,
    attempts: int,
    response: LastAttempt | None,
) -> ExecutionRecord:
    """The record of docs/aws-behaviour.md §4.1; without response fields when the function never
    ran.

    ``response`` is what the latest execution answered (None when there was none).
    ``functionArn`` is qualified with the qualifier as invoked, so an alias invoke carries the
    alias ARN: AWS's choice here is not confirmed (§4.1); the alias ARN tells a consumer
    which alias's settings applied, and ``executedVersion`` holds the version it resolved to.
    """
    return ExecutionRecord(
        request_id=event.request_id,
        function_arn=f"{function.arn}:{event.qualifier or LATEST}",
        condition=condition,
        approximate_invoke_count=attempts,
        request_payload=event.payload,
        timestamp=datetime.now(UTC),
        executed_version=response.executed_version if response is not None else None,
        function_error=response.function_error if response is not None else None,
        response_payload=response.payload if response is not None else None,
        lineage=event.chain,
    )


def answered(outcome: Outcome, function: FunctionConfig) -> LastAttempt:
    """An execution's outcome, as the record (and the queue, for later) keeps it."""
    return LastAttempt(outcome.payload, outcome.function_error, function.version)


def destinations_for(
    record: ExecutionRecord,
    function: FunctionConfig,
    config: EventInvokeConfig | None,
    keep_failures: bool = False,
) -> list[tuple[str, str]]:
    """(target, kind) pairs: OnSuccess, or OnFailure plus the dead-letter queue.

    The record of an invocation stopped by recursive loop detection does not go to a function:
    that would be the next invocation of the very chain stopped, stopped in turn, and so on
    without end (docs/aws-behaviour.md §8.1). With ``keep_failures``, a failure with nowhere
    to go gets a delivery without a target, which the Router keeps in the failed-delivery
    store."""
    if record.condition == SUCCESS:
        return [(config.on_success, ON_SUCCESS)] if config and config.on_success else []
    targets = [(config.on_failure, ON_FAILURE)] if config and config.on_failure else []
    if function.dead_letter_target_arn:
        targets.append((function.dead_letter_target_arn, DEAD_LETTER))
    if record.condition == RECURSIVE_INVOCATION:
        targets = [(target, kind) for target, kind in targets if not is_function_arn(target)]
    if not targets and keep_failures:
        return [("", ON_FAILURE)]
    return targets


def is_function_arn(target: str) -> bool:
    """``arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]``."""
    parts = target.split(":")
    return len(parts) >= 7 and parts[0] == "arn" and parts[2] == "lambda" and parts[5] == "function"


def chain_fields(lineage: Lineage | None) -> dict[str, Any]:
    """An event's place in its chain of invocations, for a log line; nothing for a chain's
    first event (most events)."""
    if lineage is None:
        return {}
    return {"chain_id": lineage.chain_id, "chain_depth": lineage.depth}


# How much of a function's error message a log line carries: enough to recognise it, while
# the whole error (with its stack trace) goes to the record and the function's own log.
LOGGED_MESSAGE_CHARS = 200
_PARSED_ERROR_BYTES = 65536


def error_fields(function_error: str | None, payload: bytes | None) -> dict[str, Any]:
    """``error_type`` and a short ``error_message`` of a failed execution, for a log line;
    nothing for a success."""
    if function_error is None or payload is None:
        return {}
    error: Any = None
    if len(payload) <= _PARSED_ERROR_BYTES:
        try:
            error = json.loads(payload)
        except (ValueError, RecursionError):
            pass
    if not isinstance(error, dict):  # a custom runtime may post anything to /error
        return {"error_type": function_error, "error_message": ""}
    message = str(error.get("errorMessage", ""))
    if len(message) > LOGGED_MESSAGE_CHARS:
        message = message[: LOGGED_MESSAGE_CHARS - 3] + "..."
    return {"error_type": str(error.get("errorType", "")), "error_message": message}
