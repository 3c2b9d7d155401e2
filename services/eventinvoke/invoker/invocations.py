"""Invoke: validate, then queue durably (Event), run now (RequestResponse) or stop (DryRun)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

import orjson

from eventinvoke.backends.base import EventQueue
from eventinvoke.core.arn import FunctionRef
from eventinvoke.core.errors import (
    RESERVED_CONCURRENCY_EXCEEDED,
    InvalidRequestContentException,
    LambdaError,
    RequestEntityTooLargeException,
    TooManyRequestsException,
    ValidationException,
    rate_exceeded,
)
from eventinvoke.core.leasing import LocalExecutor, dispatch
from eventinvoke.core.model import Claim, Invocation, Lineage, QueuedEvent
from eventinvoke.invoker.admission import Admission
from eventinvoke.invoker.functions import Functions
from eventinvoke.server import tracing

if TYPE_CHECKING:
    from eventinvoke.server.metrics import Metrics

EVENT = "Event"
REQUEST_RESPONSE = "RequestResponse"
DRY_RUN = "DryRun"
INVOCATION_TYPES = (EVENT, REQUEST_RESPONSE, DRY_RUN)  # the model's enum, in its order

_IDS = random.Random()  # its own generator: a random.seed() elsewhere must not repeat ids
MAX_SYNC_PAYLOAD = 6291456  # bytes (docs/aws-behaviour.md §1.3)
MAX_ASYNC_PAYLOAD = 1048576  # 1 MiB since Oct 2025
MAX_PAYLOAD_DEPTH = 1024  # orjson's limit; Python's json, which decides past it, has its stack's


@dataclass(frozen=True)
class SyncResult:
    payload: bytes
    function_error: str | None
    executed_version: str
    log_tail: bytes = b""


class SyncExecutor(Protocol):
    """Runs one invocation now (the Executor service)."""

    async def execute(
        self, function_name: str, qualifier: str, invocation: Invocation
    ) -> SyncResult: ...


@dataclass(frozen=True)
class InvokeResult:
    status_code: int
    request_id: str
    payload: bytes = b""
    function_error: str | None = None
    executed_version: str = ""
    log_tail: bytes | None = None  # raw bytes; None unless Tail was asked for a sync run


class Invocations:
    def __init__(
        self,
        functions: Functions,
        queue: EventQueue,
        executor: SyncExecutor,
        on_enqueued: Callable[[], None] = lambda: None,
        admission: Admission | None = None,
        metrics: Metrics | None = None,
        local_executor: LocalExecutor | None = None,
    ) -> None:
        self.functions = functions
        self.queue = queue
        self.executor = executor
        self.on_enqueued = on_enqueued  # wakes an in-process executor at once
        self.admission = admission or Admission(queue)  # no bounds unless given
        self.metrics = metrics
        self.local_executor = local_executor

    async def invoke(
        self,
        function_name: str,
        payload: bytes,
        *,
        qualifier: str | None = None,
        invocation_type: str = REQUEST_RESPONSE,
        tail_log: bool = False,
        client_context: str = "",
        request_id: str | None = None,
        lineage: Lineage | None = None,
    ) -> InvokeResult:
        """``lineage``: the place in its chain of the event an Event invoke queues (the
        Router's deliveries of records to the suite's functions); None starts a chain."""
        ref = self.functions.partition.parse(function_name, qualifier, invoke=True)
        payload = _checked_payload(payload, invocation_type)
        # The configuration the qualifier runs now (an alias resolves to its version).
        function = await self.functions.resolve(ref, invoke=True)
        request_id = request_id or new_request_id()
        if invocation_type == DRY_RUN:
            return InvokeResult(status_code=204, request_id=request_id)
        try:
            if invocation_type == EVENT:
                await self.admission.admit(function.name)
                with (
                    tracing.span(
                        "enqueue", None, "producer", **tracing.invocation(request_id, function.name)
                    )
                    if tracing.ENABLED
                    else tracing.OFF
                ):
                    # The event carries the enqueue's span: its attempts and record continue it.
                    event = _queued(
                        request_id, function.name, ref, payload, lineage, tracing.traceparent()
                    )
                    claim = self._claim(1)
                    await self.queue.enqueue(event, claim=claim)
                await dispatch([event], self.local_executor, self.on_enqueued)
                if self.metrics is not None:
                    self.metrics.received(function.name)
                return InvokeResult(status_code=202, request_id=request_id)
            if function.reserved_concurrent_executions == 0:
                # Never runs: 429 at once. Event invokes are accepted above and the executor
                # sends them straight to OnFailure / the DLQ (docs/aws-behaviour.md §1.4, §3.5).
                raise rate_exceeded(RESERVED_CONCURRENCY_EXCEEDED)
            result = await self.executor.execute(
                function.name,
                function.version,  # resolved once, here
                Invocation(
                    request_id,
                    payload,
                    self.functions.partition.function_arn(function.name, ref.qualifier),
                    client_context,
                    tail_log,
                ),
            )
        except TooManyRequestsException:  # here, from an admission bound, or the executor's
            if self.metrics is not None:
                self.metrics.throttled(function.name)
            raise
        return InvokeResult(
            status_code=200,
            request_id=request_id,
            payload=result.payload,
            function_error=result.function_error,
            executed_version=result.executed_version,
            log_tail=result.log_tail if tail_log else None,
        )

    async def invoke_events(
        self, invocations: Sequence[EventInvocation]
    ) -> list[InvokeResult | LambdaError]:
        """Event invocations, each checked as ``invoke`` checks it, the accepted ones queued in
        one write: per invocation its 202 result or the error ``invoke`` would raise."""
        outcomes: list[InvokeResult | LambdaError] = []
        events: list[QueuedEvent] = []
        for invocation in invocations:
            try:
                if invocation.invocation_type != EVENT:
                    self.functions.partition.parse(invocation.function_name, invocation.qualifier)
                    raise ValidationException("InvokeBatch queues Event invocations only")
                event = await prepare_event(
                    self.functions,
                    invocation.function_name,
                    invocation.payload,
                    invocation.qualifier,
                )
            except LambdaError as error:
                outcomes.append(error)
                continue
            try:
                await self.admission.admit(event.function_name)
            except TooManyRequestsException as error:
                if self.metrics is not None:
                    self.metrics.throttled(event.function_name)
                outcomes.append(error)
                continue
            events.append(event)
            outcomes.append(InvokeResult(status_code=202, request_id=event.request_id))
        if events:
            with tracing.span("enqueue", None, "producer", **{"eventinvoke.events": len(events)}):
                context = tracing.traceparent()
                for event in events:
                    event.traceparent = context
                claim = self._claim(len(events))
                await self.queue.enqueue(*events, claim=claim)
            await dispatch(events, self.local_executor, self.on_enqueued)
            if self.metrics is not None:
                for event in events:
                    self.metrics.received(event.function_name)
        return outcomes

    def _claim(self, count: int) -> Claim | None:
        local = self.local_executor
        return None if local is None else local.claim(count)


async def prepare_event(
    functions: Functions,
    function_name: str,
    payload: bytes,
    qualifier: str | None = None,
    request_id: str | None = None,
    lineage: Lineage | None = None,
    traceparent: str = "",
) -> QueuedEvent:
    """The event an Event invoke of ``function_name`` would queue, checked as ``invoke``
    checks it (raising its errors): the Invoker's, and an executor's for records it queues as
    events of the suite's functions (those carry the ``lineage`` of their chain, and the
    record's ``traceparent``)."""
    ref = functions.partition.parse(function_name, qualifier, invoke=True)
    payload = _checked_payload(payload, EVENT)
    function = await functions.resolve(ref, invoke=True)
    request_id = request_id or new_request_id()
    return _queued(request_id, function.name, ref, payload, lineage, traceparent)


class EventInvocation(NamedTuple):
    """One invocation of ``Invocations.invoke_events`` (a tuple: one is made per invocation,
    and a frozen dataclass costs nearly twice as much to make)."""

    function_name: str
    payload: bytes
    qualifier: str | None = None
    invocation_type: str = EVENT


def _queued(
    request_id: str,
    function_name: str,
    ref: FunctionRef,
    payload: bytes,
    lineage: Lineage | None = None,
    traceparent: str = "",
) -> QueuedEvent:
    # A queued event keeps the qualifier as invoked: an alias is resolved again when the event
    # runs (docs/aws-behaviour.md §3.1), and its own event invoke config applies (§2.2).
    now = time.time()
    return QueuedEvent(
        request_id=request_id,
        function_name=function_name,
        qualifier=ref.resolved_qualifier,
        payload=payload,
        enqueued_at=now,
        visible_at=now,
        lineage=lineage,
        traceparent=traceparent,
    )


def new_request_id() -> str:
    """A random (version 4) UUID from ``random``, which seeds itself from os.urandom: a request
    id must be unique, not unguessable, and ``uuid4`` costs a syscall per invocation."""
    return uuid_text(_IDS.getrandbits(128), version=4)


def uuid_text(bits: int, version: int) -> str:
    """The text of the RFC 4122 UUID of 128 ``bits``, its version and variant set: what
    ``str(uuid.UUID(int=bits, version=version))`` gives, at a fraction of its cost (request ids
    are made on every invocation's path)."""
    bits = bits & ~(0xF << 76) & ~(0x3 << 62) | (version << 76) | (0x2 << 62)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _checked_payload(payload: bytes, invocation_type: str) -> bytes:
    """The payload within its invocation type's limit and valid JSON (empty means {})."""
    limit = MAX_ASYNC_PAYLOAD if invocation_type == EVENT else MAX_SYNC_PAYLOAD
    if len(payload) > limit:
        raise RequestEntityTooLargeException(
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation"
        )
    payload = payload or b"{}"
    _require_json(payload)
    return payload


def _require_json(payload: bytes) -> None:
    try:
        orjson.loads(payload)  # strict RFC 8259 and fast: what it accepts, json accepts too
        return
    except orjson.JSONDecodeError:
        pass  # json decides (it also takes integers past 64 bits) and words the error
    try:
        json.loads(payload, parse_constant=_non_standard)
    except UnicodeDecodeError as error:
        raise InvalidRequestContentException(
            "Could not parse request body into json: Could not parse payload into json: "
            f"Invalid UTF-8 start byte 0x{payload[error.start]:02x}"
        ) from None
    except ValueError as error:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {error}"
        ) from None
    except RecursionError:  # deeper than orjson's 1024 levels, and than Python's stack
        raise InvalidRequestContentException(
            "Could not parse request body into json: Could not parse payload into json: "
            f"the payload is nested too deeply (at most {MAX_PAYLOAD_DEPTH} levels)"
        ) from None


def _non_standard(token: str) -> None:
    """NaN and Infinity are not JSON; Python accepts them, AWS's parser does not."""
    raise ValueError(f"Non-standard token '{token}'")
