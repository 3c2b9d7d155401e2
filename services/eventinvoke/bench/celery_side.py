"""Celery's side: a worker (prefork, 2 processes, acks late) on the local Redis broker's
database 15, a unique queue, driven by C threads calling ``echo.apply_async(link=collect.s())``."""

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
from pathlib import Path

import click
import redis

from eventinvoke.bench.harness import (
    Collected,
    Plan,
    Progress,
    RssSampler,
    SystemResult,
    percentiles,
    stop_process,
)

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 15


def _redis() -> redis.Redis:
    return redis.Redis(
        REDIS_HOST, REDIS_PORT, db=REDIS_DB, socket_timeout=5, socket_connect_timeout=5
    )


def redis_version() -> str:
    try:
        return str(_redis().info("server")["redis_version"])
    except redis.RedisError:
        return "unavailable"


def run(plan: Plan, workdir: Path) -> SystemResult:
    broker = _redis()
    try:
        broker.ping()
    except redis.RedisError as error:
        where = f"{REDIS_HOST}:{REDIS_PORT}"
        raise click.ClickException(f"Redis at {where} not reachable: {error}") from None
    broker.flushdb()  # database 15 only
    queue = f"eventinvoke-bench-{uuid.uuid4().hex[:8]}"
    collected = Collected(workdir / "collected.txt")
    env = {**os.environ, "BENCH_COLLECT_FILE": str(collected.path), "BENCH_CELERY_QUEUE": queue}
    with open(workdir / "celery.log", "wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "eventinvoke.bench.celery_app",
                "worker",
                "--concurrency",
                "2",
                "--pool",
                "prefork",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "--loglevel",
                "WARNING",
                # Cluster chatter the data path does not need (Celery's own advice for Redis).
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    sampler = RssSampler(worker.pid)
    # The broker is a server process too; its RSS is reported beside, not in, peak_rss_mb
    # (it is this machine's shared Redis, not one the bench started).
    broker_sampler = RssSampler(int(broker.info("server")["process_id"]))
    try:
        from eventinvoke.bench import celery_app

        celery_app.app.conf.update(
            task_default_queue=queue,
            broker_pool_limit=max(10, plan.concurrency),  # a producer per caller thread
        )
        driver = _Driver(celery_app, queue, collected, worker, plan.timeout)
        with sampler, broker_sampler:
            # The warm-up also proves the worker is consuming (it has no readiness probe).
            driver.burst(plan.warmup, plan.warmup, "celery warm-up")
            started, accepted_at, sent = driver.burst(plan.n, plan.concurrency, "celery throughput")
            finished = max(collected.times[i] for i in sent)
            latencies, offered = driver.paced(plan.latency_events, plan.rate, plan.concurrency)
        celery_app.app.close()
        return SystemResult(
            accept_per_s=plan.n / (accepted_at - started),
            e2e_per_s=plan.n / (finished - started),
            latency_ms=percentiles(latencies),
            peak_rss_mb=sampler.peak_mb,
            offered_rate=offered,
            extra={"broker_rss_mb": round(broker_sampler.peak_mb, 1)},
        )
    except BaseException:
        click.echo(f"celery log tail:\n{_tail(workdir / 'celery.log')}", err=True)
        raise
    finally:
        stop_process(worker, list(sampler.seen.values()))
        try:
            broker.flushdb()
        except redis.RedisError:
            pass


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


class _Driver:
    def __init__(
        self,
        tasks: object,
        queue: str,
        collected: Collected,
        worker: subprocess.Popen[bytes],
        timeout: float,
    ) -> None:
        self.echo = tasks.echo_task  # type: ignore[attr-defined]
        self.link = tasks.collect_task.s().set(queue=queue)  # type: ignore[attr-defined]
        self.queue = queue
        self.collected = collected
        self.worker = worker
        self.timeout = timeout
        self.last_answer = 0.0

    def _invoke(self, i: int, sent: dict[str, float]) -> None:
        task_id = str(uuid.uuid4())
        at = time.time()
        self.echo.apply_async(({"i": i},), task_id=task_id, queue=self.queue, link=self.link)
        sent[task_id] = at  # one dict store: atomic under the GIL
        self.last_answer = time.time()

    def burst(self, n: int, concurrency: int, label: str) -> tuple[float, float, dict[str, float]]:
        """n apply_async calls by ``concurrency`` threads; waits until all are done.
        Returns (start, time of the last answer, task id → send time)."""
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
                raise click.ClickException(f"apply_async failed: {errors[0]!r}")
            finished_sending = senders_done()
            progress.accepted = len(sent)
            done = self.collected.done(list(sent))  # list(): a C-level copy, safe from writers
            progress.done(done)
            if finished_sending and done == n:
                return
            if self.worker.poll() is not None:
                raise click.ClickException("the Celery worker exited during the run")
            if time.monotonic() > deadline:
                raise click.ClickException(f"only {done}/{n} events done after {self.timeout:.0f}s")
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

            with Progress(f"celery latency @{rate:g}/s", count) as progress:
                self._wait_done(count, sent, progress, senders_done, errors)
        times = self.collected.times
        return [(times[i] - at) * 1000 for i, at in sent.items()], offered
