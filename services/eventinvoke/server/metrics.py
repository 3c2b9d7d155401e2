"""Prometheus metrics on ``--metrics-listen``: AWS Lambda's CloudWatch metrics, per function.

Each metric is declared once, in ``METRICS`` (name, kind, help, labels, the AWS metric it
mirrors, the role that reports it); the registry's families and the table in docs/deploy.md are
derived from that declaration. The services are given a ``Metrics`` only when metrics are on,
and count one outcome where it is decided (``if metrics is not None``): with metrics off
nothing is counted, nothing is wrapped, and this module (with prometheus-client) is not even
imported. With them on, a count is a dict lookup and a prometheus-client increment or
observation (a lock), about a microsecond: a few per event.

Invocations, errors, durations and concurrency are counted around the sandbox pool
(``MeteredSandboxes``), outside the executor's own code. The backend's figures (queue depth,
outbox, failed-delivery store) are shared by every replica: they are read at scrape time, at
most once a second, by the processes that carry the Invoker, and every such replica reports
the same numbers (aggregate them with ``max``, not ``sum``; docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from eventinvoke.core.model import DEAD_LETTER, RECURSIVE_INVOCATION, SUCCESS

if TYPE_CHECKING:
    from eventinvoke.backends.base import EventQueue, Outbox
    from eventinvoke.core.model import FunctionConfig
    from eventinvoke.executor.sandbox import Invocation, Outcome, Sandboxes

log = structlog.get_logger("eventinvoke.metrics")

FUNCTION = ("function_name",)
# Lambda's durations run from a millisecond to its 900 s maximum timeout.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
# An event waits from milliseconds (a warm executor) to its 6 h maximum age.
AGE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 10800, 21600)


@dataclass(frozen=True)
class Metric:
    """One metric: its exposition name, kind, help and labels, and where it comes from."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    help: str
    reported_by: str  # the roles whose processes report it
    aws: str = ""  # the CloudWatch metric it mirrors, if any
    labels: tuple[str, ...] = FUNCTION
    buckets: tuple[float, ...] = ()


INVOCATIONS = Metric(
    "eventinvoke_invocations_total",
    "counter",
    "Runs of the function's code, synchronous and asynchronous (each retry is a run), with or "
    "without a function error; throttled requests are not runs",
    "executor",
    "Invocations",
)
ERRORS = Metric(
    "eventinvoke_errors_total",
    "counter",
    "Runs that ended in a function error (an exception, a timeout, a crash, a failed init)",
    "executor",
    "Errors",
)
THROTTLES = Metric(
    "eventinvoke_throttles_total",
    "counter",
    "Requests refused for want of concurrency (429 TooManyRequestsException to a synchronous "
    "caller, or an admission bound to an Event caller), and throttled tries of queued events",
    "invoker, executor",
    "Throttles",
)
DURATION = Metric(
    "eventinvoke_duration_seconds",
    "histogram",
    "How long the function's code ran, per run (the REPORT line's Duration)",
    "executor",
    "Duration",
    buckets=DURATION_BUCKETS,
)
CONCURRENT = Metric(
    "eventinvoke_concurrent_executions",
    "gauge",
    "Runs in this executor's hands now (running, or waiting for a sandbox of the function)",
    "executor",
    "ConcurrentExecutions",
)
RECEIVED = Metric(
    "eventinvoke_async_events_received_total",
    "counter",
    "Events queued for asynchronous invocation (Event invokes, and records queued for a "
    "function destination of the suite)",
    "invoker, executor",
    "AsyncEventsReceived",
)
AGE = Metric(
    "eventinvoke_async_event_age_seconds",
    "histogram",
    "Time from an event's queueing to each run of it (retries included)",
    "executor",
    "AsyncEventAge",
    buckets=AGE_BUCKETS,
)
DROPPED = Metric(
    "eventinvoke_async_events_dropped_total",
    "counter",
    "Events given up without a successful run (before OnFailure and the dead-letter queue "
    "get their record), by reason: the record's condition",
    "executor",
    "AsyncEventsDropped",
    labels=(*FUNCTION, "reason"),
)
DESTINATION_FAILURES = Metric(
    "eventinvoke_destination_delivery_failures_total",
    "counter",
    "Records that could not be delivered to an OnSuccess or OnFailure destination after every "
    "attempt (kept in the failed-delivery store)",
    "router",
    "DestinationDeliveryFailures",
)
DEAD_LETTER_ERRORS = Metric(
    "eventinvoke_dead_letter_errors_total",
    "counter",
    "Events that could not be sent to the dead-letter queue after every attempt (kept in the "
    "failed-delivery store)",
    "router",
    "DeadLetterErrors",
)
RECURSIVE_DROPPED = Metric(
    "eventinvoke_recursive_invocations_dropped_total",
    "counter",
    "Invocations stopped as the 17th of a recursive loop through destinations",
    "executor",
    "RecursiveInvocationsDropped",
)
# The backend's figures: shared by every replica, read at scrape time.
QUEUE_DEPTH = Metric(
    "eventinvoke_queue_depth",
    "gauge",
    "Events queued: waiting, leased, or waiting out a retry or throttle backoff",
    "invoker",
)
OLDEST_AGE = Metric(
    "eventinvoke_queue_oldest_age_seconds",
    "gauge",
    "Seconds since the oldest queued event was queued (0 when none is)",
    "invoker",
    labels=(),
)
OUTBOX_PENDING = Metric(
    "eventinvoke_outbox_pending",
    "gauge",
    "Deliveries in the Router's outbox, not yet made (retries included)",
    "invoker",
    labels=(),
)
FAILED_STORED = Metric(
    "eventinvoke_failed_deliveries",
    "gauge",
    "Records in the failed-delivery store",
    "invoker",
    labels=(),
)
INFO = Metric(
    "eventinvoke_info",
    "gauge",
    "1, labelled with this process's release and roles",
    "every process",
    labels=("version", "roles"),
)

METRICS = (
    INVOCATIONS,
    ERRORS,
    THROTTLES,
    DURATION,
    CONCURRENT,
    RECEIVED,
    AGE,
    DROPPED,
    DESTINATION_FAILURES,
    DEAD_LETTER_ERRORS,
    RECURSIVE_DROPPED,
    QUEUE_DEPTH,
    OLDEST_AGE,
    OUTBOX_PENDING,
    FAILED_STORED,
    INFO,
)
BACKEND_FIGURES = (QUEUE_DEPTH, OLDEST_AGE, OUTBOX_PENDING, FAILED_STORED)
FIGURES_MAX_AGE = 1.0  # seconds a reading of the backend serves scrapes
FIGURES_TIMEOUT = 5.0  # a slower reading is abandoned: the scrape goes without the figures


class _Family:
    """A labelled metric's children, found by their labels in a dict: prometheus-client's own
    ``labels()`` formats and locks on every call."""

    __slots__ = ("children", "metric")

    def __init__(self, metric: Any) -> None:
        self.metric = metric
        self.children: dict[Any, Any] = {}

    def of(self, key: str | tuple[str, ...]) -> Any:
        child = self.children.get(key)
        if child is None:
            labels = key if isinstance(key, tuple) else (key,)
            child = self.children[key] = self.metric.labels(*labels)
        return child


def _instrument(spec: Metric, registry: CollectorRegistry) -> _Family:
    kinds: dict[str, Any] = {"counter": Counter, "gauge": Gauge, "histogram": Histogram}
    extra = {"buckets": spec.buckets} if spec.buckets else {}
    return _Family(kinds[spec.kind](spec.name, spec.help, spec.labels, registry=registry, **extra))


class Metrics:
    """One process's metrics: a registry of its own (tests start several suites per process),
    and a method per outcome the services count."""

    def __init__(self, version: str, roles: Iterable[str]) -> None:
        # No `*_created` series beside each counter and histogram: Prometheus does not read
        # them from the text format, and they would double the scrape. (Process-wide.)
        disable_created_metrics()
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # CPU, memory, open files: from /proc
        families = {
            spec.name: _instrument(spec, self.registry)
            for spec in METRICS
            if spec not in BACKEND_FIGURES
        }
        families[INFO.name].of((version, ",".join(roles))).set(1)
        self._invocations = families[INVOCATIONS.name]
        self._errors = families[ERRORS.name]
        self._throttles = families[THROTTLES.name]
        self._duration = families[DURATION.name]
        self._concurrent = families[CONCURRENT.name]
        self._received = families[RECEIVED.name]
        self._age = families[AGE.name]
        self._dropped = families[DROPPED.name]
        self._destination_failures = families[DESTINATION_FAILURES.name]
        self._dead_letter_errors = families[DEAD_LETTER_ERRORS.name]
        self._recursive_dropped = families[RECURSIVE_DROPPED.name]

    def received(self, function_name: str) -> None:
        """An event of the function was queued."""
        self._received.of(function_name).inc()

    def throttled(self, function_name: str) -> None:
        """A request was refused with 429, or a queued event's try was throttled."""
        self._throttles.of(function_name).inc()

    def dequeued(self, function_name: str, age: float) -> None:
        """A queued event, ``age`` seconds old, goes to run."""
        self._age.of(function_name).observe(age)

    def settled(self, function_name: str, condition: str) -> None:
        """An event's record was handed over (the event is done): dropped unless it succeeded."""
        if condition == SUCCESS:
            return
        self._dropped.of((function_name, condition)).inc()
        if condition == RECURSIVE_INVOCATION:
            self._recursive_dropped.of(function_name).inc()

    def delivery_failed(self, function_arn: str, kind: str) -> None:
        """A delivery of a record of the function went to the failed-delivery store."""
        name = function_arn.split(":")[6]  # arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]
        family = self._dead_letter_errors if kind == DEAD_LETTER else self._destination_failures
        family.of(name).inc()

    def sandboxes(self, pool: Sandboxes) -> MeteredSandboxes:
        """``pool``, counting every run of a function on it."""
        return MeteredSandboxes(pool, self)

    def backend_figures(self, queue: EventQueue, outbox: Outbox) -> BackendFigures:
        """The backend's figures in this registry, read at scrape time."""
        figures = BackendFigures(queue, outbox)
        self.registry.register(figures)
        return figures

    def running(self, function_name: str) -> Any:
        """The gauge of the function's runs in hand (``inc()`` as one starts, ``dec()``)."""
        return self._concurrent.of(function_name)

    def ran(self, function_name: str, outcome: Outcome) -> None:
        """A run of the function's code ended, with or without a function error."""
        self._invocations.of(function_name).inc()
        if outcome.function_error is not None:
            self._errors.of(function_name).inc()
        self._duration.of(function_name).observe(outcome.duration_ms / 1000)


class MeteredSandboxes:
    """A sandbox pool whose runs are counted: invocations, errors, duration, concurrency.

    A run that is throttled is counted where the throttle is decided (the Invoker, the
    executor's worker), a run that raises (the executor's own failure) not at all.
    """

    def __init__(self, pool: Sandboxes, metrics: Metrics) -> None:
        self.pool = pool
        self.metrics = metrics

    @property
    def log_dir(self) -> Path:
        return self.pool.log_dir

    async def run(
        self, function: FunctionConfig, code_dir: Path, invocation: Invocation, *, wait: bool = True
    ) -> Outcome:
        running = self.metrics.running(function.name)
        running.inc()
        try:
            outcome = await self.pool.run(function, code_dir, invocation, wait=wait)
        finally:
            running.dec()
        self.metrics.ran(function.name, outcome)
        return outcome

    async def flush_log_indexes(self) -> None:
        await self.pool.flush_log_indexes()

    async def close(self) -> None:
        await self.pool.close()


@dataclass
class _Reading:
    depths: dict[str, int]
    oldest_age: float | None
    pending: int
    failed: int
    at: float


class BackendFigures(Collector):
    """Queue depth per function, the oldest event's age, outbox pending and failed-store size.

    ``refresh()`` reads them from the backend (four counts, at most once a second however many
    scrapers ask); ``collect()`` serves the last reading without I/O. A reading that fails or
    takes longer than ``FIGURES_TIMEOUT`` leaves the figures out of the scrape, so a dashboard
    shows a gap rather than old numbers.
    """

    def __init__(self, queue: EventQueue, outbox: Outbox) -> None:
        self.queue = queue
        self.outbox = outbox
        self._reading: _Reading | None = None
        self._pending: asyncio.Future[None] | None = None
        self._functions: set[str] = set()  # reported once: 0 from then on, not a gap

    async def refresh(self) -> None:
        if self._reading is not None and time.monotonic() - self._reading.at < FIGURES_MAX_AGE:
            return
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._read())
        pending = self._pending
        try:
            await asyncio.wait_for(asyncio.shield(pending), FIGURES_TIMEOUT)
        except Exception as error:  # the database is down or slow: the scrape goes on without
            self._reading = None
            log.warning("metrics_backend_unavailable", error=str(error) or type(error).__name__)

    async def _read(self) -> None:
        try:
            depths, oldest, pending, failed = await asyncio.gather(
                self.queue.depth_by_function(),
                self.queue.oldest_age(),
                self.outbox.pending(),
                self.outbox.failed_count(),
            )
            self._reading = _Reading(depths, oldest, pending, failed, time.monotonic())
        finally:
            self._pending = None

    def describe(self) -> list[Any]:
        return []  # no reading at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reading = self._reading
        if reading is None:
            return
        self._functions.update(reading.depths)
        depth = _gauge(QUEUE_DEPTH)
        for name in sorted(self._functions):
            depth.add_metric([name], reading.depths.get(name, 0))
        yield depth
        yield _gauge(OLDEST_AGE, max(reading.oldest_age or 0.0, 0.0))
        yield _gauge(OUTBOX_PENDING, reading.pending)
        yield _gauge(FAILED_STORED, reading.failed)


def _gauge(spec: Metric, value: float | None = None) -> GaugeMetricFamily:
    if value is None:
        return GaugeMetricFamily(spec.name, spec.help, labels=spec.labels)
    return GaugeMetricFamily(spec.name, spec.help, value=value)


class MetricsServer:
    """``GET /metrics`` over HTTP, as a server ``Worker``: started first, stopped last, so a
    draining process is still seen."""

    def __init__(
        self, listen: str, metrics: Metrics, figures: BackendFigures | None = None
    ) -> None:
        self.listen = listen
        host, _, port = listen.rpartition(":")
        self.host = host.strip("[]")
        self.port = int(port)
        self.metrics = metrics
        self.figures = figures
        self._runner: web.AppRunner | None = None

    @property
    def address(self) -> str:
        """``host:port``; once started, the real port (port 0 picks a free one)."""
        return f"{self.listen.rsplit(':', 1)[0]}:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._scrape)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as error:
            await runner.cleanup()
            raise OSError(f"cannot listen on {self.listen} (metrics): {error.strerror}") from None
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("metrics_started", url=f"http://{self.address}/metrics")

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _scrape(self, request: web.Request) -> web.Response:
        if self.figures is not None:
            await self.figures.refresh()
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(self.metrics.registry)  # a few hundred series: well under a millisecond
        return web.Response(body=body, headers={"Content-Type": content_type})


# --- docs/deploy.md's table of metrics, derived from the declarations ----------------------------

TABLE_START = "<!-- metrics table: generated from server/metrics.py by `make readme` -->"
TABLE_END = "<!-- end of metrics table -->"


def reference_table() -> str:
    """The metrics as a Markdown table: name, kind, labels, AWS metric, who reports it."""
    rows = [
        "| metric | kind | labels | AWS metric | reported by | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for spec in METRICS:
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "none"
        aws = f"`{spec.aws}`" if spec.aws else "none"
        rows.append(
            f"| `{spec.name}` | {spec.kind} | {labels} | {aws} | {spec.reported_by} | {spec.help} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":  # `make readme`
    import sys

    from eventinvoke.server.config import rewrite_table

    for arg in sys.argv[1:]:
        changed = rewrite_table(Path(arg), TABLE_START, TABLE_END, reference_table())
        print(f"{arg}: {'updated' if changed else 'up to date'}")
