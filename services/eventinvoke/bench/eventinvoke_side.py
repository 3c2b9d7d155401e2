"""eventinvoke's side: ``eventinvoke up`` on the embedded backend in a temp data dir (or, for
cluster mode, with a second executor process, both on a PostgreSQL database), driven through the
public gRPC API by this process with C concurrent asyncio callers."""

from __future__ import annotations

import asyncio
import io
import itertools
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import click
import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eventinvoke.backends.sqlite import DATABASE_FILE
from eventinvoke.bench import functions
from eventinvoke.bench.harness import (
    MB,
    Collected,
    Memory,
    PhaseCpu,
    Plan,
    Progress,
    SystemResult,
    TreeSampler,
    cdf,
    free_port,
    log_tail,
    memory,
    stop_process,
    tree,
)
from eventinvoke.client import AsyncClient
from eventinvoke.executor.forkserver import FORK_SERVER

FUNCTIONS_DIR = Path(functions.__file__).resolve().parent
COLLECTOR_ARN = "arn:aws:lambda:us-east-1:000000000000:function:collector"
START_TIMEOUT = 30.0
IDLE_SETTLE_SECONDS = 1.0  # let start-up allocations settle before reading the idle RSS
RPC_TIMEOUT = 30.0
# One grpc.aio channel multiplexes all callers over one HTTP/2 connection. Measured on a 2-core
# machine (N=3000, C=64): 1 channel 812 accepts/s, 4 channels 520 (noisy; the server is the limit).
CHANNELS = 1
SANDBOX_HOST = "eventinvoke.executor.host"  # in the sandbox host's command line


def run(plan: Plan, workdir: Path) -> SystemResult:
    """``eventinvoke up`` on the embedded SQLite backend."""
    return _run(plan, workdir, backend=[], extra_executors=0, database=_sqlite_size)


def _sqlite_size(workdir: Path) -> float:
    """The SQLite database as it stands on disk: the file and its write-ahead log."""
    data = workdir / "data"
    return sum(_size(data / f"{DATABASE_FILE}{suffix}") for suffix in ("", "-wal")) / MB


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _tree_size(path: Path) -> float:
    """Everything under a data dir (database, function code, logs), in MB."""
    return sum(_size(f) for f in path.rglob("*") if f.is_file()) / MB


# Cluster mode as the bench runs it: ``up`` (invoker, executor, router) and one more executor
# process, on a database of the bench's own on the local server (EVENTINVOKE_BENCH_POSTGRES).
POSTGRES_EXECUTORS = 2
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def run_postgres(plan: Plan, workdir: Path) -> SystemResult:
    """The same work with every process on one PostgreSQL database, two executors."""
    admin = os.environ.get("EVENTINVOKE_BENCH_POSTGRES") or DEFAULT_POSTGRES
    url = asyncio.run(_create_database(admin))

    def size(_: Path) -> float:
        return asyncio.run(_database_size(admin, url)) / MB

    try:
        result = _run(plan, workdir, ["--backend", url], POSTGRES_EXECUTORS - 1, database=size)
    finally:
        asyncio.run(_drop_database(admin, url))
    result.extra.update(
        processes=f"up + {POSTGRES_EXECUTORS - 1} executor",
        postgres_server=asyncio.run(_server_version(admin)),
    )
    return result


def _run(
    plan: Plan,
    workdir: Path,
    backend: list[str],
    extra_executors: int,
    database: Callable[[Path], float],
) -> SystemResult:
    listen = f"127.0.0.1:{free_port()}"
    collected = Collected(workdir / "collected.txt")
    common = [
        # As Celery's worker runs here (--loglevel WARNING): no line per event.
        "--log-level",
        "warning",
        # The collector writes into the bench's own directory, which a sandbox running as a
        # user of its own cannot reach; the peers' workers run as the bench's user too.
        "--sandbox-uids",
        "none",
        *backend,
    ]
    process = _start(
        ["up", "--data-dir", str(workdir / "data"), "--listen", listen,
         # The bench drives gRPC only; a free port keeps it clear of a running suite.
         "--http-listen", "127.0.0.1:0", *common],
        workdir / "eventinvoke.log",
    )  # fmt: skip
    others = [
        _start(
            [
                "serve",
                "executor",
                "--data-dir",
                str(workdir / f"executor-{n}"),
                "--listen",
                f"127.0.0.1:{free_port()}",
                *common,
            ],
            workdir / f"executor-{n}.log",
        )  # fmt: skip
        for n in range(extra_executors)
    ]
    sampler = TreeSampler(process.pid, *(other.pid for other in others))
    try:
        _wait_serving(listen, process)
        time.sleep(IDLE_SETTLE_SECONDS)
        idle = memory(sampler.processes())
        with sampler:
            result = asyncio.run(_drive(plan, listen, collected, process, sampler))
            # Sandboxes stay warm after the run (idle timeout 300 s).
            sandboxes = [memory(tree(pid)) for p in [process, *others] for pid in _sandboxes(p.pid)]
            everything = memory(sampler.processes())
        result.take_memory(sampler)
        largest = max(sandboxes, key=lambda m: m.pss_mb, default=Memory())
        result.extra.update(
            idle.to_json("idle"),
            # At the end of the run: the largest warm sandbox, and the servers' processes
            # without their sandboxes (the services and the sandbox host).
            **largest.to_json("sandbox"),
            sandboxes=len(sandboxes),
            **Memory(
                everything.rss_mb - sum(m.rss_mb for m in sandboxes),
                everything.uss_mb - sum(m.uss_mb for m in sandboxes),
                everything.pss_mb - sum(m.pss_mb for m in sandboxes),
            ).to_json("servers"),
            database_mb=round(database(workdir), 2),
            data_dir_mb=round(
                sum(_tree_size(d) for d in [workdir / "data", *workdir.glob("executor-*")]), 2
            ),
            latency_cdf_ms=cdf(result.latencies),
        )
        return result
    except BaseException:
        click.echo(f"eventinvoke log tail:\n{log_tail(workdir / 'eventinvoke.log')}", err=True)
        raise
    finally:
        for other in others:
            stop_process(other, list(sampler.seen.values()))
        stop_process(process, list(sampler.seen.values()))


def _start(args: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "eventinvoke.cli", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so cleanup reaches all of it
        )


async def _create_database(admin: str) -> str:
    import asyncpg

    name = f"eventinvoke_bench_{os.getpid()}_{int(time.time())}"
    connection = await asyncpg.connect(admin, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))


async def _drop_database(admin: str, url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin, timeout=10)
    try:
        name = urlsplit(url).path.lstrip("/")
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def _database_size(admin: str, url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(admin, timeout=10)
    try:
        name = urlsplit(url).path.lstrip("/")
        return int(await connection.fetchval("SELECT pg_database_size($1)", name))
    finally:
        await connection.close()


async def _server_version(admin: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(admin, timeout=10)
    try:
        return "PostgreSQL " + str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def _sandboxes(pid: int) -> list[int]:
    """The sandboxes' pids: the children of the sandbox host, itself a child of ``up``."""
    found: list[int] = []
    try:
        for child in psutil.Process(pid).children():
            if SANDBOX_HOST in child.cmdline():
                # Not the fork server, whose pages the sandboxes share: counted with the servers.
                found.extend(
                    grandchild.pid
                    for grandchild in child.children()
                    if FORK_SERVER not in grandchild.environ()
                )
            else:  # sandboxes in the suite's own process (EVENTINVOKE_SANDBOX_HOST=false)
                found.append(child.pid)
    except psutil.NoSuchProcess:
        pass
    return found


def _wait_serving(listen: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with grpc.insecure_channel(listen) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if process.poll() is not None:
                raise click.ClickException("eventinvoke up exited during start-up")
            if time.monotonic() > deadline:
                raise click.ClickException(f"eventinvoke not serving after {START_TIMEOUT:.0f}s")
            time.sleep(0.1)


def _zip(module: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(FUNCTIONS_DIR / f"{module}.py", f"{module}.py")
    return buffer.getvalue()


async def _drive(
    plan: Plan,
    listen: str,
    collected: Collected,
    process: subprocess.Popen[bytes],
    sampler: TreeSampler,
) -> SystemResult:
    # The server runs open, as the peers do: calls are not signed, whatever AWS keys are about.
    clients = [AsyncClient(listen, timeout=RPC_TIMEOUT, credentials=False) for _ in range(CHANNELS)]
    try:
        client = clients[0]
        await client.create_function(
            function_name="collector",
            runtime="python3.11",
            handler="collector.handler",
            zip_file=_zip("collector"),
            environment={"Variables": {"BENCH_COLLECT_FILE": str(collected.path)}},
        )
        await client.create_function(
            function_name="echo",
            runtime="python3.11",
            handler="echo.handler",
            zip_file=_zip("echo"),
        )
        await client.put_function_event_invoke_config(
            function_name="echo",
            destination_config={"OnSuccess": {"Destination": COLLECTOR_ARN}},
        )
        driver = _Driver(clients, collected, process, plan.timeout)
        await driver.burst(plan.warmup, plan.warmup, "eventinvoke warm-up")
        with PhaseCpu(sampler) as cpu:
            started, accepted_at, sent = await driver.burst(
                plan.n, plan.concurrency, "eventinvoke throughput"
            )
        finished = max(collected.times[i] for i in sent)
        latencies, offered = await driver.paced(plan.latency_events, plan.rate)
    finally:
        for c in clients:
            await c.close()
    result = SystemResult.measured(plan, started, accepted_at, finished, latencies, offered)
    result.extra.update(cpu.to_json(plan.n))
    return result


class _Driver:
    def __init__(
        self,
        clients: list[AsyncClient],
        collected: Collected,
        process: subprocess.Popen[bytes],
        timeout: float,
    ) -> None:
        self.clients = itertools.cycle(clients)
        self.collected = collected
        self.process = process
        self.timeout = timeout
        self.last_answer = 0.0

    async def _invoke(self, i: int, sent: dict[str, float]) -> None:
        at = time.time()
        response = await next(self.clients).invoke(
            function_name="echo", invocation_type="Event", payload=b'{"i": %d}' % i
        )
        if response["StatusCode"] != 202:
            raise click.ClickException(f"invoke answered {response['StatusCode']}, not 202")
        sent[response["ResponseMetadata"]["RequestId"]] = at
        self.last_answer = time.time()

    async def burst(
        self, n: int, concurrency: int, label: str
    ) -> tuple[float, float, dict[str, float]]:
        """n invocations by ``concurrency`` callers as fast as answered; waits until all are done.
        Returns (start, time of the last answer, request id → send time)."""
        sent: dict[str, float] = {}
        indexes = iter(range(n))  # shared: each caller takes the next index

        async def caller() -> None:
            for i in indexes:
                await self._invoke(i, sent)

        started = time.time()
        callers = [asyncio.create_task(caller()) for _ in range(concurrency)]
        with Progress(label, n) as progress:
            await self._wait_done(n, sent, progress, asyncio.gather(*callers))
        return started, self.last_answer, sent

    async def _wait_done(
        self,
        n: int,
        sent: dict[str, float],
        progress: Progress,
        callers_done: asyncio.Future[list[None]],
    ) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            if callers_done.done():
                callers_done.result()  # a failed invoke ends the bench with its error
            progress.accepted = len(sent)
            done = self.collected.done(sent)
            progress.done(done)
            if callers_done.done() and done == n:
                return
            if self.process.poll() is not None:
                raise click.ClickException("eventinvoke up exited during the run")
            if time.monotonic() > deadline:
                callers_done.cancel()
                raise click.ClickException(f"only {done}/{n} events done after {self.timeout:.0f}s")
            if callers_done.done():  # wait() would return at once: look again in 0.1 s
                await asyncio.sleep(0.1)
            else:
                await asyncio.wait({callers_done}, timeout=0.1)

    async def paced(self, count: int, rate: float) -> tuple[list[float], float]:
        """Open loop: invocation i is sent at start + i/rate whether or not earlier ones were
        answered. Returns latencies (ms, send → collector) and the rate really offered."""
        sent: dict[str, float] = {}
        tasks: list[asyncio.Task[None]] = []
        start = time.monotonic()
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._invoke(i, sent)))
        offered = (count - 1) / max(time.monotonic() - start, 1e-9) if count > 1 else rate
        with Progress(f"eventinvoke latency @{rate:g}/s", count) as progress:
            await self._wait_done(count, sent, progress, asyncio.gather(*tasks))
        times = self.collected.times
        return [(times[i] - at) * 1000 for i, at in sent.items()], offered
