"""The domain's data: functions, async settings, queued events and execution records."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import orjson

LATEST = "$LATEST"

# Conditions of an execution record (docs/aws-behaviour.md §3.7).
SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"
# This project's, not AWS's (which documents none): the version or alias an event was invoked
# through was deleted while the event was queued. The record goes to the function's
# unqualified OnFailure destination and its $LATEST dead-letter queue.
QUALIFIER_NOT_FOUND = "QualifierNotFound"
# This project's too: the function itself was deleted while the event was queued. No record is
# made (there is nowhere left to send it); GetInvocation shows the condition.
FUNCTION_DELETED = "FunctionDeleted"
# Recursive loop detection stopped the invocation (docs/aws-behaviour.md §7). AWS documents no
# condition for it: this is the name of the error its synchronous path answers with.
RECURSIVE_INVOCATION = "RecursiveInvocationException"

UNHANDLED = "Unhandled"


@dataclass(frozen=True)
class FunctionConfig:
    """One version of a function: what runs and how."""

    name: str
    arn: str  # unqualified
    runtime: str
    handler: str
    code_sha256: str  # base64, as AWS shows it; also the key of the stored package
    code_size: int
    role: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    dead_letter_target_arn: str | None = None
    version: str = LATEST
    last_modified: str = ""
    revision_id: str = ""
    # None: no reservation (the unreserved pool); 0: the function is throttled entirely.
    reserved_concurrent_executions: int | None = None

    @property
    def sandbox_key(self) -> str:
        """Sandboxes are reused only while this stays the same."""
        return f"{self.name}:{self.version}:{self.revision_id}"


def is_version_number(qualifier: str) -> bool:
    """A published version's qualifier: digits only (alias names may not be all digits)."""
    return qualifier.isdigit()


@dataclass(frozen=True)
class Alias:
    """A name for one version of a function (AWS's AliasConfiguration, without routing)."""

    function_name: str
    name: str
    function_version: str  # a version number or $LATEST
    description: str = ""
    revision_id: str = ""


@dataclass(frozen=True)
class EventInvokeConfig:
    """Asynchronous settings of one qualifier. ``None`` means "never set"."""

    function_name: str
    qualifier: str
    last_modified: float
    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None


# A function's RecursiveLoop setting (PutFunctionRecursionConfig): Terminate, AWS's default,
# stops a chain of invocations past MAX_CHAIN_INVOCATIONS; Allow lets it go on.
RECURSIVE_LOOP_ALLOW = "Allow"
RECURSIVE_LOOP_TERMINATE = "Terminate"
RECURSIVE_LOOP_VALUES = (RECURSIVE_LOOP_ALLOW, RECURSIVE_LOOP_TERMINATE)  # the model's enum
# AWS stops the next invocation once a chain has made about 16 (docs/aws-behaviour.md §7).
MAX_CHAIN_INVOCATIONS = 16
# The gRPC metadata in which the Router's Event invokes of the suite's functions carry the
# lineage of the event they queue (Lineage.encode). Only `service` and `admin` callers may send
# it (server/interceptors.py): anyone else could reset a loop's count, or stop an invocation.
LINEAGE_METADATA = "x-eventinvoke-lineage"
_MAX_CHAIN_ID = 128  # characters; request ids are UUIDs


@dataclass(frozen=True)
class Lineage:
    """Where an invocation stands in a chain of invocations, each caused by the previous one's
    record reaching a function destination: what AWS's trace header carries for its recursive
    loop detection (docs/aws-behaviour.md §7)."""

    chain_id: str  # the request id of the chain's first invocation
    depth: int  # this invocation's place in the chain: 1 for the first

    def next(self) -> Lineage:
        """The lineage of the invocation this one's record causes."""
        return Lineage(self.chain_id, self.depth + 1)

    def encode(self) -> str:
        """``<chain id>:<depth>``, as ``LINEAGE_METADATA`` carries it."""
        return f"{self.chain_id}:{self.depth}"

    @classmethod
    def decode(cls, text: str) -> Lineage:
        """The lineage ``encode`` wrote; ValueError for anything else."""
        chain_id, _, depth = text.rpartition(":")
        valid_depth = depth.isascii() and depth.isdigit() and len(depth) <= 9 and int(depth) > 0
        if not (0 < len(chain_id) <= _MAX_CHAIN_ID and valid_depth):
            raise ValueError("not <chain id>:<depth>")
        return cls(chain_id, int(depth))

    @property
    def past_limit(self) -> bool:
        """Whether this invocation is one too many for a function that terminates loops."""
        return self.depth > MAX_CHAIN_INVOCATIONS


@dataclass(frozen=True)
class Invocation:
    """One run of a function, as its sandbox receives it (the Invoker sends it to the Executor
    for a synchronous run)."""

    request_id: str
    payload: bytes  # JSON bytes
    invoked_function_arn: str
    client_context: str = ""  # base64 JSON
    tail_log: bool = False
    # Lambda-Runtime-Trace-Id (the function's _X_AMZN_TRACE_ID), in X-Ray's form; "" with
    # tracing off (server/tracing.py).
    trace_id: str = ""


@dataclass(frozen=True)
class LastAttempt:
    """What the latest execution of a queued event answered: kept for a record settled later
    without another run (it expired while throttled), which carries that response
    (docs/aws-behaviour.md §3.4)."""

    payload: bytes
    function_error: str | None
    executed_version: str


@dataclass(frozen=True)
class Attempt:
    """One execution of a queued event, as GetInvocation shows it: when it ran (the backend's
    clock) and, when it failed, the function's error."""

    started_at: float
    ended_at: float
    function_error: str | None = None  # "Unhandled" or "Handled"; None: it succeeded
    error_type: str = ""
    error_message: str = ""  # the start of it, as a log line carries it


@dataclass(frozen=True)
class Requeue:
    """What a retry records of an event it makes visible again (``EventQueue.retry``).

    ``attempts``: the executions made; ``visible_at``: when it runs next, by the backend's
    clock. ``throttles`` counts throttled tries since the last execution (0 after an
    execution), so the throttle backoff can double from 1 s (docs/aws-behaviour.md §3.3).
    ``last_attempt``, when given, replaces the stored response of the latest execution, and
    ``history`` the executions made so far (the event's ``history`` when leased next); None
    keeps them."""

    attempts: int
    visible_at: float
    throttles: int = 0
    last_attempt: LastAttempt | None = None
    history: Sequence[Attempt] | None = None


@dataclass
class QueuedEvent:
    """An accepted asynchronous invocation, as the queue holds it."""

    request_id: str
    function_name: str
    qualifier: str
    payload: bytes
    enqueued_at: float  # epoch seconds
    attempts: int = 0  # function executions made so far
    visible_at: float = 0.0
    throttles: int = 0  # throttled tries since the last execution (docs/aws-behaviour.md §3.3)
    event_id: int | None = None  # the queue's own key
    last_attempt: LastAttempt | None = None
    # None: the first invocation of its chain (a client's invoke).
    lineage: Lineage | None = None
    history: tuple[Attempt, ...] = ()  # the executions so far, kept for GetInvocation
    # The W3C traceparent its attempts and record continue (server/tracing.py): the trace
    # crosses the queue, retries and restarts with the event. "": none (tracing was off).
    traceparent: str = ""
    # Lease state, not the event's: when the lease it was leased with ends (epoch seconds, the
    # queue's clock), and that lease's epoch, the fencing token every later write carries.
    lease_expires: float | None = field(default=None, compare=False)
    lease_epoch: int = field(default=0, compare=False)

    @property
    def chain(self) -> Lineage:
        """The event's lineage; a chain's first event starts its own."""
        return self.lineage or Lineage(self.request_id, 1)


@dataclass(frozen=True)
class ExecutionRecord:
    """What a destination receives (docs/aws-behaviour.md §4.1)."""

    request_id: str
    function_arn: str  # qualified
    condition: str
    approximate_invoke_count: int
    request_payload: bytes
    timestamp: datetime
    executed_version: str | None = None  # None: the function never ran
    function_error: str | None = None
    response_payload: bytes | None = None
    status_code: int = 200
    # The lineage of the invocation recorded (not shown to destinations): a function
    # destination's event continues it. None for a record from outside the suite.
    lineage: Lineage | None = None
    # The record's span, as a W3C traceparent (not shown to destinations either): its
    # deliveries, and a function destination's event, continue the trace. "": none.
    traceparent: str = ""

    @property
    def next_lineage(self) -> Lineage | None:
        """The lineage of the invocation this record causes when a function receives it: the
        next in its chain (None for a record from outside the suite: a chain of its own)."""
        return self.lineage.next() if self.lineage else None

    def to_dict(self, *, parse: bool = True) -> dict[str, Any]:
        """The record as destinations receive it; ``parse=False`` carries the payloads as their
        text (for payloads nested too deeply to render as JSON objects)."""
        payload_of = loads_or_text if parse else _text
        record: dict[str, Any] = {
            "version": "1.0",
            "timestamp": format_timestamp(self.timestamp),
            "requestContext": {
                "requestId": self.request_id,
                "functionArn": self.function_arn,
                "condition": self.condition,
                "approximateInvokeCount": self.approximate_invoke_count,
            },
            "requestPayload": payload_of(self.request_payload),
        }
        if self.executed_version is not None:
            context: dict[str, Any] = {
                "statusCode": self.status_code,
                "executedVersion": self.executed_version,
            }
            if self.function_error:
                context["functionError"] = self.function_error
            record["responseContext"] = context
            record["responsePayload"] = (
                None if self.response_payload is None else payload_of(self.response_payload)
            )
        return record

    def to_json(self) -> str:
        return self.to_json_bytes().decode()

    def to_json_bytes(self) -> bytes:
        """The record as JSON in UTF-8, the compact form of Python's json.

        Written by orjson, at a sixteenth of json's cost (a float may be spelt differently:
        ``1e-7`` for json's ``1e-07``). json writes what orjson refuses: integers past 64
        bits, strings holding a lone surrogate (as its ``\\u`` escape), and nesting past 254
        levels."""
        record = self.to_dict()
        try:
            return orjson.dumps(record)
        except orjson.JSONEncodeError:
            pass
        try:
            text = _compact(record)
        except RecursionError:  # a payload that parsed, nested too deeply to write back
            record = self.to_dict(parse=False)
            text = _compact(record)
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate, which UTF-8 cannot hold
            return _compact(record, ascii=True).encode()

    @property
    def failed(self) -> bool:
        return self.condition != SUCCESS

    @property
    def error_message(self) -> str:
        """The error object's ``errorMessage``, for dead-letter attributes."""
        body = loads_or_text(self.response_payload or b"")
        if isinstance(body, dict):
            return str(body.get("errorMessage", ""))
        return ""


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, e.g. ``2019-11-24T23:08:25.651Z``."""
    m = moment.astimezone(UTC)
    # Formatted by hand: strftime was a measurable share of building a record.
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{m.microsecond // 1000:03d}Z"
    )


def loads_or_text(data: bytes) -> Any:
    """Parse JSON bytes; bytes that are not JSON, or nested deeper than Python's stack allows,
    become a string (they are never dropped).

    ``NaN``, ``Infinity`` and numbers past a float's range are not JSON, though Python's json
    reads them (a Python function's answer may hold them): such a payload is carried as its
    text, so a record always holds JSON."""
    if not data:
        return None
    if _NINETEEN_DIGITS not in data.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(data)  # strict and several times faster; refusals go to json
        except orjson.JSONDecodeError:
            pass
    try:
        return _STRICT.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except (ValueError, RecursionError):
        return data.decode("utf-8", "replace")


# orjson reads an integer past 64 bits as a float (json keeps it exact): payloads with 19
# digits in a row are left to json. (Found by a translate and a find: a regular expression took
# longer than json's parse.)
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_NINETEEN_DIGITS = b"0" * 19


def _compact(value: Any, ascii: bool = False) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii)


def _not_json(token: str) -> NoReturn:
    raise ValueError(f"{token} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"{text} is past a float's range")
    return number


_STRICT = json.JSONDecoder(parse_constant=_not_json, parse_float=_finite)


def _text(data: bytes) -> Any:
    return data.decode("utf-8", "replace") if data else None


# Kinds of delivery: a record to OnSuccess / OnFailure, or the raw event to the dead-letter queue.
ON_SUCCESS = "OnSuccess"
ON_FAILURE = "OnFailure"
DEAD_LETTER = "DeadLetter"


@dataclass
class Delivery:
    """One record (or, for a dead-letter queue, one raw event) on its way to one target."""

    delivery_id: str
    target: str
    kind: str  # ON_SUCCESS, ON_FAILURE or DEAD_LETTER
    record: ExecutionRecord
    attempts: int = 0  # delivery attempts made so far
    lease_epoch: int = field(default=0, compare=False)  # the fencing token of its lease


def deliveries_for(record: ExecutionRecord, destinations: list[tuple[str, str]]) -> list[Delivery]:
    """One delivery per (target, kind), each with its own id."""
    return [
        Delivery(delivery_id=str(uuid.uuid4()), target=target, kind=kind, record=record)
        for target, kind in destinations
    ]


@dataclass(frozen=True)
class FailedDelivery:
    """A delivery given up on, kept so that nothing is silently dropped."""

    delivery: Delivery
    reason: str
    failed_at: float  # epoch seconds


# Why a record kept with nowhere to go is in the failed-delivery store: its delivery has no
# target (``Delivery.target`` is empty), so it is never tried and cannot be redriven.
NO_DESTINATION = "No OnFailure destination or dead-letter queue took the event"


@dataclass(frozen=True)
class FailureFilter:
    """Which failed deliveries an operation of the failed-delivery store acts on: those that
    match every field given (None: any).

    ``function_arn`` matches a record's function ARN, or any qualified ARN beneath it;
    ``reason`` is a part of the reason; ``failed_after`` and ``failed_before`` (epoch seconds)
    bound the time it failed, inclusive and exclusive."""

    function_arn: str | None = None
    target: str | None = None
    reason: str | None = None
    failed_after: float | None = None
    failed_before: float | None = None
    delivery_id: str | None = None


EVERY_FAILURE = FailureFilter()

# What GetInvocation answers an invocation's status is, and each of its deliveries'.
QUEUED = "QUEUED"
RUNNING = "RUNNING"
RETRY_SCHEDULED = "RETRY_SCHEDULED"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
PENDING = "PENDING"
DELIVERED = "DELIVERED"
PURGED = "PURGED"


@dataclass(frozen=True)
class Handover:
    """Where a settled invocation's record went: a delivery in the Router's outbox, or an
    event queued for a function of this suite (which is delivered as soon as it is queued)."""

    target: str
    kind: str  # ON_SUCCESS, ON_FAILURE or DEAD_LETTER
    delivery_id: str = ""  # the outbox delivery's id; "" for a queued event
    request_id: str = ""  # the queued event's request id; "" for a delivery


@dataclass(frozen=True)
class SettledInvocation:
    """An invocation once settled: what GetInvocation remembers of it, for a while, after its
    event has left the queue."""

    request_id: str
    function_name: str
    qualifier: str
    condition: str
    enqueued_at: float
    attempts: tuple[Attempt, ...] = ()
    handovers: tuple[Handover, ...] = ()
    settled_at: float = 0.0  # the backend's clock, stamped when it is stored

    @property
    def delivery_ids(self) -> list[str]:
        """The ids of its deliveries through the outbox (not of the events it queued)."""
        return [handover.delivery_id for handover in self.handovers if handover.delivery_id]


@dataclass(frozen=True)
class Claim:
    """Events queued already leased to ``owner`` for ``lease_seconds``, as one of its leases
    would have taken them: the settling executor runs its record's follow-up events itself,
    with no lease statement and no trip through the queue (eager dispatch)."""

    owner: str
    lease_seconds: float


@dataclass(frozen=True)
class Settlement:
    """What settling an event stores with its ack, in one transaction (``Backend.settle``).

    ``deliveries`` go to the outbox; ``events`` are records bound for functions of this suite,
    queued as those functions' events, with request ids derived from the record so that
    settling twice queues them once (and leased to the settling executor, with a ``claim``);
    ``invocation`` is what GetInvocation remembers (stamped with the backend's clock when
    stored)."""

    deliveries: Sequence[Delivery] = ()
    events: Sequence[QueuedEvent] = ()
    invocation: SettledInvocation | None = None
    claim: Claim | None = None


@dataclass(frozen=True)
class DeliveryState:
    """How a handover stands now: PENDING while in the outbox, FAILED once in the
    failed-delivery store, PURGED once purged from there, else DELIVERED."""

    handover: Handover
    state: str
    attempts: int = 0  # delivery attempts made (for a pending or failed one)
    reason: str = ""  # why it failed
