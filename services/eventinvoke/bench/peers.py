"""What the peers (Celery, Dramatiq) share: a database of their own on the local Redis (each
run's keys deleted after it, nothing else touched), a worker started as its own process group,
and the client:
C threads calling the peer's own ``send`` in the pattern eventinvoke's callers follow (a burst as
fast as answered, then an open-loop paced phase)."""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import redis

from eventinvoke.bench.harness import (
    Collected,
    PhaseCpu,
    Plan,
    Progress,
    SystemResult,
    TreeSampler,
    cdf,
    log_tail,
    memory,
    stop_process,
)

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IDLE_SETTLE_SECONDS = 1.0

# One invocation: sends event i with its success callback; returns the id the collector will
# write (the first job's own id). Called from many threads at once.
Send = Callable[[int], str]


@dataclass
class Peer:
    """One peer as the bench runs it."""

    name: str
    db: int  # the Redis database number only the bench uses
    worker: Callable[[str], list[str]]  # queue → the ``python -m ...`` arguments of its worker
    connect: Callable[[str], tuple[Send, Callable[[], None]]]  # queue → (send, close)
    settings: dict[str, Any] = field(default_factory=dict)  # recorded in the JSON, with reasons


def client(db: int) -> redis.Redis:
    return redis.Redis(REDIS_HOST, REDIS_PORT, db=db, socket_timeout=5, socket_connect_timeout=5)


def url(db: int) -> str:
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"


def redis_version() -> str:
    try:
        return str(client(0).info("server")["redis_version"])
    except redis.RedisError:
        return "unavailable"


def run(peer: Peer, plan: Plan, workdir: Path) -> SystemResult:
    broker = client(peer.db)
    try:
        broker.ping()
    except redis.RedisError as error:
        where = f"{REDIS_HOST}:{REDIS_PORT}"
        raise click.ClickException(f"Redis at {where} not reachable: {error}") from None
    # A queue of this run's own: a worker left over from an interrupted run cannot steal from
    # it, and two benches on one machine (a developer's and CI's) can share the database. So
    # the run deletes its own keys when done instead of flushing the database: a flush in one
    # bench wipes another's queued messages mid-run (seen here: a Celery run stalled at 2,941
    # of 5,000 events when database 15 was emptied under it, most likely by another copy of
    # the bench that still flushed it).
    queue = f"eventinvoke-bench-{uuid.uuid4().hex[:8]}"
    collected = Collected(workdir / "collected.txt")
    env = {**os.environ, "BENCH_COLLECT_FILE": str(collected.path), "BENCH_QUEUE": queue}
    log_path = workdir / f"{peer.name}.log"
    with open(log_path, "wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", *peer.worker(queue)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    sampler = TreeSampler(worker.pid)
    # The broker is a server process too; its RSS is reported beside, not in, peak_rss_mb
    # (it is this machine's shared Redis, not one the bench started).
    broker_sampler = TreeSampler(int(broker.info("server")["process_id"]), full_every=1e9)
    close: Callable[[], None] = lambda: None  # noqa: E731
    try:
        send, close = peer.connect(queue)
        driver = _Driver(peer.name, send, collected, worker, plan.timeout)
        with sampler, broker_sampler:
            # The warm-up also proves the worker is consuming (it has no readiness probe).
            driver.burst(plan.warmup, plan.warmup, f"{peer.name} warm-up")
            time.sleep(IDLE_SETTLE_SECONDS)
            # After the warm-up: every worker process is up and has run both jobs.
            idle = memory(sampler.processes())
            with PhaseCpu(sampler, broker_sampler) as cpu:
                started, accepted_at, sent = driver.burst(
                    plan.n, plan.concurrency, f"{peer.name} throughput"
                )
            finished = max(collected.times[i] for i in sent)
            latencies, offered = driver.paced(plan.latency_events, plan.rate, plan.concurrency)
            processes = len(sampler.processes())
        result = SystemResult.measured(plan, started, accepted_at, finished, latencies, offered)
        result.take_memory(sampler)
        result.extra.update(
            idle.to_json("idle"),
            processes=processes,
            broker_rss_mb=round(broker_sampler.peak_rss_mb, 1),
            **cpu.to_json(plan.n),
            latency_cdf_ms=cdf(latencies),
            settings=peer.settings,
        )
        return result
    except BaseException:
        click.echo(f"{peer.name} log tail:\n{log_tail(log_path)}", err=True)
        raise
    finally:
        close()
        stop_process(worker, list(sampler.seen.values()))
        _delete_keys(broker, queue)


def _delete_keys(broker: redis.Redis, queue: str) -> None:
    """This run's keys in the peer's database: every key that names its queue (Celery's list
    and bindings, Dramatiq's queue, delay and ack keys). The shared bookkeeping keys stay:
    Celery's unacked hash loses its entries as messages are acked, kombu's binding deadlines
    hold the remote-control box every worker shares, and Dramatiq purges dead workers'
    heartbeats itself."""
    try:
        for key in broker.scan_iter(match=f"*{queue}*", count=1000):
            broker.delete(key)
    except redis.RedisError:
        pass


@dataclass
class _Driver:
    name: str
    send: Send
    collected: Collected
    worker: subprocess.Popen[bytes]
    timeout: float
    last_answer: float = 0.0

    def _invoke(self, i: int, sent: dict[str, float]) -> None:
        at = time.time()
        job_id = self.send(i)
        sent[job_id] = at  # one dict store: atomic under the GIL
        self.last_answer = time.time()

    def burst(self, n: int, concurrency: int, label: str) -> tuple[float, float, dict[str, float]]:
        """n sends by ``concurrency`` threads; waits until all are done.
        Returns (start, time of the last answer, job id → send time)."""
        sent: dict[str, float] = {}
        indexes = itertools.count()  # next() on a count is atomic under the GIL
        errors: list[BaseException] = []

        def caller() -> None:
            try:
                while (i := next(indexes)) < n:
                    self._invoke(i, sent)
            except BaseException as error:  # surfaced by _wait_done
                errors.append(error)

        started = time.time()
        threads = [threading.Thread(target=caller, daemon=True) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        with Progress(label, n) as progress:
            senders_done = lambda: all(not t.is_alive() for t in threads)  # noqa: E731
            self._wait_done(n, sent, progress, senders_done, errors)
        return started, self.last_answer, sent

    def _wait_done(
        self,
        n: int,
        sent: dict[str, float],
        progress: Progress,
        senders_done: Callable[[], bool],
        errors: list[BaseException],
    ) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            if errors:
                raise click.ClickException(f"{self.name} send failed: {errors[0]!r}")
            finished_sending = senders_done()
            progress.accepted = len(sent)
            done = self.collected.done(list(sent))  # list(): a C-level copy, safe from writers
            progress.done(done)
            if finished_sending and done == n:
                return
            if self.worker.poll() is not None:
                raise click.ClickException(f"the {self.name} worker exited during the run")
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"only {done}/{n} events done after {self.timeout:.0f}s (did a process "
                    "flush the peer's Redis database during the run?)"
                )
            time.sleep(0.1)

    def paced(self, count: int, rate: float, concurrency: int) -> tuple[list[float], float]:
        """Open loop, as on eventinvoke's side: send i at start + i/rate on a pool of threads."""
        sent: dict[str, float] = {}
        errors: list[BaseException] = []
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            futures = []
            start = time.monotonic()
            for i in range(count):
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                futures.append(pool.submit(self._invoke, i, sent))
            offered = (count - 1) / max(time.monotonic() - start, 1e-9) if count > 1 else rate

            def senders_done() -> bool:
                for future in futures:
                    if future.done() and future.exception() is not None:
                        errors.append(future.exception())  # type: ignore[arg-type]
                return all(f.done() for f in futures)

            with Progress(f"{self.name} latency @{rate:g}/s", count) as progress:
                self._wait_done(count, sent, progress, senders_done, errors)
        times = self.collected.times
        return [(times[i] - at) * 1000 for i, at in sent.items()], offered
