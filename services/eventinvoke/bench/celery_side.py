"""Celery's side: a worker (prefork, one process per core, acks late, a large prefetch) on the
local Redis broker's database 15, a queue of the run's own, driven by C threads calling
``echo.apply_async(link=collect.s())``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventinvoke.bench import peers
from eventinvoke.bench.harness import Plan, SystemResult

DB = 15  # for the bench alone; each run deletes its own keys (see peers.run)
PROCESSES = os.cpu_count() or 1
PREFETCH_MULTIPLIER = 64

# What the worker runs with, and why (written to the JSON and shown in the README).
SETTINGS: dict[str, Any] = {
    "pool": "prefork",
    "concurrency": PROCESSES,
    "concurrency_why": "Celery's default for prefork: one child process per CPU core; the "
    "tasks are CPU work in Python, so more children than cores would only contend for them",
    "worker_prefetch_multiplier": PREFETCH_MULTIPLIER,
    "prefetch_why": "Celery's Optimizing guide: with many short tasks where throughput and round "
    "trip latency matter, the multiplier 'should be large ... Say 64, or 128' (default 4); "
    "measured here in 3 interleaved rounds at N=5000: 416 events/s end to end (median) "
    "against 414 with the default, the same within noise",
    "task_acks_late": True,
    "acks_why": "a task is acknowledged after it ran, so a worker that dies loses no event: the "
    "delivery guarantee eventinvoke's leases give (Dramatiq always acks after running)",
    "flags": ["--without-gossip", "--without-mingle", "--without-heartbeat"],
    "flags_why": "cluster chatter the data path does not need, as Celery advises for Redis",
    "callback": "link=collect.s(): Celery's success callback, the Destination's counterpart",
    "broker": f"Redis database {DB}",
}


def _worker(queue: str) -> list[str]:
    command = (
        f"celery -A eventinvoke.bench.celery_app worker --concurrency {PROCESSES} --pool prefork "
        f"--prefetch-multiplier {PREFETCH_MULTIPLIER} --loglevel WARNING"
    )
    return [*command.split(), "-Q", queue, "-n", f"{queue}@%h", *SETTINGS["flags"]]


def _connect(concurrency: int) -> Callable[[str], tuple[peers.Send, Callable[[], None]]]:
    def connect(queue: str) -> tuple[peers.Send, Callable[[], None]]:
        from eventinvoke.bench import celery_app

        celery_app.app.conf.update(
            task_default_queue=queue,
            broker_pool_limit=max(10, concurrency),  # a producer per caller thread
        )
        echo = celery_app.echo_task
        link = celery_app.collect_task.s().set(queue=queue)

        def send(i: int) -> str:
            task_id = str(uuid.uuid4())
            echo.apply_async(({"i": i},), task_id=task_id, queue=queue, link=link)
            return task_id

        return send, celery_app.app.close

    return connect


def run(plan: Plan, workdir: Path) -> SystemResult:
    peer = peers.Peer("celery", DB, _worker, _connect(plan.concurrency), SETTINGS)
    return peers.run(peer, plan, workdir)
