"""Dramatiq's side: a worker (one process per core, 8 threads each: Dramatiq's defaults) on the
local Redis broker's database 14, a queue of the run's own, driven by C threads running
``pipeline([echo.message(event), collect.message(echo_id, event)])``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventinvoke.bench import peers
from eventinvoke.bench.harness import Plan, SystemResult

DB = 14  # for the bench alone; each run deletes its own keys (see peers.run)
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
    "callback": "pipeline([echo, collect]): the cookbook's Composition recipe for chaining "
    "actors that do not know each other, B run after A succeeds with A's result as its last "
    "argument (collect's message carries the request id and event). Dramatiq also has an "
    "on_success callback (the Callbacks recipe, nearer a Destination's wording); measured "
    "here in 3 interleaved rounds at N=5000, pipeline ran 1,502 events/s end to end (median) "
    "against on_success's 1,217 (whose callback message carries a copy of the whole first "
    "message), so the bench compares with the faster",
    "middleware": "Dramatiq's defaults (AgeLimit, TimeLimit, ShutdownNotifications, Callbacks, "
    "Pipelines, Retries); no result backend, as on Celery's side",
    "broker": f"Redis database {DB}",
}


def _worker(queue: str) -> list[str]:
    command = f"dramatiq eventinvoke.bench.dramatiq_app:broker --processes {PROCESSES} "
    return [*command.split(), "--threads", str(THREADS), "--queues", queue]


def _connect(queue: str) -> tuple[peers.Send, Callable[[], None]]:
    import dramatiq

    from eventinvoke.bench import dramatiq_app

    broker, echo, collect = dramatiq_app.declare(queue, peers.url(DB))

    def send(i: int) -> str:
        event = {"i": i}
        first = echo.message(event)
        dramatiq.pipeline([first, collect.message(first.message_id, event)], broker=broker).run()
        return str(first.message_id)

    return send, broker.close


def run(plan: Plan, workdir: Path) -> SystemResult:
    return peers.run(peers.Peer("dramatiq", DB, _worker, _connect, SETTINGS), plan, workdir)
