"""Dramatiq's side: a worker (one process per core, 8 threads each: Dramatiq's defaults) on the
local Redis broker's database 14, a queue of the run's own, driven by C threads calling
``echo.send_with_options(on_success=collect)``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventinvoke.bench import peers
from eventinvoke.bench.harness import Plan, SystemResult

DB = 14  # the bench flushes it before and after, and touches nothing else
PROCESSES = os.cpu_count() or 1
THREADS = 8

# What the worker runs with, and why (written to the JSON and shown in the README).
SETTINGS: dict[str, Any] = {
    "processes": PROCESSES,
    "threads": THREADS,
    "processes_threads_why": "Dramatiq's defaults (its docs name no other setting for "
    "throughput): a worker process per CPU core, since the GIL lets one process use one core, "
    "and 8 threads in each, so a thread waiting on Redis does not leave its core idle",
    "queue_prefetch": 2 * THREADS,
    "prefetch_why": "Dramatiq's default (dramatiq_queue_prefetch unset: twice the threads per "
    "process, in-progress messages included): every thread has its next message at hand",
    "acks": "after the actor ran (Dramatiq's only mode: at least once, as eventinvoke)",
    "callback": "on_success=collect: the Callbacks recipe of Dramatiq's cookbook, 'sending "
    "actors messages when other actors succeed or fail', which is what a Destination does; its "
    "message carries the first message's data (its id, the destination record's request id) "
    "and result. A pipeline would pass the result on too, but is the docs' tool for composing "
    "a workflow whose steps do not know each other, not for a callback on success",
    "middleware": "Dramatiq's defaults (AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, "
    "Pipelines, Retries); no result backend, as on Celery's side",
    "broker": f"Redis database {DB}",
}


def _worker(queue: str) -> list[str]:
    return [
        "dramatiq",
        "eventinvoke.bench.dramatiq_app:broker",
        "--processes",
        str(PROCESSES),
        "--threads",
        str(THREADS),
        "--queues",
        queue,
    ]


def _connect(queue: str) -> tuple[peers.Send, Callable[[], None]]:
    from eventinvoke.bench import dramatiq_app

    broker, echo, collect = dramatiq_app.declare(queue, peers.url(DB))

    def send(i: int) -> str:
        return str(echo.send_with_options(args=({"i": i},), on_success=collect).message_id)

    return send, broker.close


def run(plan: Plan, workdir: Path) -> SystemResult:
    return peers.run(peers.Peer("dramatiq", DB, _worker, _connect, SETTINGS), plan, workdir)
