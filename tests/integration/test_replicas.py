"""Replicas on one PostgreSQL database (issue #14): 2 invokers, 3 executors and 2 routers, each
its own OS process with its own data directory. While events flow, one executor and one router
are SIGKILLed (never restarted) and another executor is SIGSTOPped past its leases, then
resumed. Afterwards:

- every event that got a 202 ends in one record per destination: the collector function's for
  successes, an SQS OnFailure message and an SQS dead-letter message for failures; none is
  missing, and duplicates stay within the at-least-once window of the processes that stopped;
- the resumed executor's late writes were refused (by the lease epochs, or by the database
  ending the transaction it was paused in), and what it had in hand was recorded once, by the
  executor that took it over;
- the function with reserved concurrency 2 never ran more than 2 at once across executors, as
  timed by the function itself;
- the events, deliveries and failed_deliveries tables are empty, no concurrency slot is held,
  the processes that were killed left none of theirs behind, and the others stop on SIGTERM.

Workload: 2,120 Event invokes through both invokers (16 at a time), about 4,200 executions.

- ``worker`` (the raiser): 2,000 events, 1 in 5 failing. Successes go OnSuccess to the
  ``collector`` function (queued as its event in the settle's transaction); failures are retried
  once, then go OnFailure to an SQS queue and to an SQS dead-letter queue on moto_server (both
  delivered by the routers).
- ``held`` (the sleeper, 50 ms a run): 120 events at reserved concurrency 2, spread among the
  others; OnSuccess to the collector too.

On 2 shared cores: the processes start in 3 to 6 s, the invokes take about 4 s, everything is
drained about 15 s from the start, and the whole test takes 20 to 30 s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest
from conftest import FUNCTIONS, read_lines, wait_for, zip_dir
from destinations.harness import FUNCTIONS as AWS_FUNCTIONS
from destinations.harness import Aws, Queue
from processes import SuiteProcess, free_port, gone

from eventinvoke.client import AsyncClient

WORKER_EVENTS = 2_000
FAIL_EVERY = 5  # every 5th worker event fails: 400 failures, 1,600 successes
HELD_EVENTS = 120
RESERVED = 2
EXECUTOR_CONCURRENCY = 16
# The deliveries one Router has in flight at most (DeliverySettings.concurrency; not a setting).
ROUTER_CONCURRENCY = 64
LEASE_MARGIN = 2.0
FUNCTION_TIMEOUT = 3
# An event's lease while it runs (and a concurrency slot's): its function's timeout plus the
# margin. Also the lease taken before the function is known (the default timeout, 3 s).
LEASE = FUNCTION_TIMEOUT + LEASE_MARGIN
ENV = {
    "EVENTINVOKE_TIME_SCALE": "0.01",  # the retry of a failure comes after 0.6 s, not 60 s
    "EVENTINVOKE_LEASE_MARGIN": str(LEASE_MARGIN),
    "EVENTINVOKE_LOG_FORMAT": "json",
    "EVENTINVOKE_EXECUTOR_CONCURRENCY": str(EXECUTOR_CONCURRENCY),
    # One SQS call per Router attempt: a send the SDK retried on its own after a lost answer
    # would duplicate a message without a trace; the Router's retries are in its log.
    "EVENTINVOKE_DESTINATIONS": json.dumps({"sqs": {"max_attempts": 1}}),
}
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function"
NAMES = ("invoker-1", "invoker-2", "executor-1", "executor-2", "executor-3", "router-1", "router-2")


class Cluster:
    """The processes (``serve <role>``), each with its own data directory and log file."""

    def __init__(self, tmp_path: Path, backend: str, env: dict[str, str]) -> None:
        self.listen = {name: f"127.0.0.1:{free_port()}" for name in NAMES}
        # Peers as lists of replicas, called round robin (as `eventinvoke cluster` does).
        peers = {
            "invoker": ["--executor-endpoint", "ipv4:" + ",".join(self.addresses("executor"))],
            "executor": [],
            "router": ["--invoker-endpoint", "ipv4:" + ",".join(self.addresses("invoker"))],
        }
        self.processes: dict[str, SuiteProcess] = {}
        self.orphans: dict[str, list[psutil.Process]] = {}  # by killed process
        for name in NAMES:
            role = name.split("-")[0]
            args = ["serve", role, "--backend", backend, "--data-dir", str(tmp_path / name)]
            self.processes[name] = SuiteProcess(
                [*args, *peers[role]],
                tmp_path / f"{name}.log",
                # A router logs each record it delivers at debug: who delivered what shows.
                {**env, "EVENTINVOKE_LOG_LEVEL": "debug"} if role == "router" else env,
            )

    def addresses(self, role: str) -> list[str]:
        return [listen for name, listen in self.listen.items() if name.startswith(role)]

    def __getitem__(self, name: str) -> SuiteProcess:
        return self.processes[name]

    def pid(self, name: str) -> int:
        process = self.processes[name].process
        assert process is not None
        return process.pid

    async def start(self) -> None:
        # All at once (each waits for its health check on a thread): they create the schema
        # together, under the migrations' advisory lock.
        await asyncio.gather(
            *(
                asyncio.to_thread(process.start, self.listen[name], 60.0)
                for name, process in self.processes.items()
            )
        )

    def kill(self, name: str) -> None:
        """SIGKILL the process alone, as a crash does; what it started is kept an eye on."""
        self.orphans[name] = psutil.Process(self.pid(name)).children(recursive=True)
        self.processes[name].kill()

    def left_behind(self, name: str) -> list[int]:
        """What a killed process had started and still runs."""
        return [child.pid for child in self.orphans[name] if not gone(child)]

    def cleanup(self) -> None:
        """SIGKILL the process groups still led by their process (a stopped one too), and what
        the killed processes left (psutil checks a pid still names the same process)."""
        for process in self.processes.values():
            process.cleanup()
        for children in self.orphans.values():
            for child in children:
                with contextlib.suppress(psutil.Error):
                    child.kill()


class QueueReader:
    """Receives and deletes every message of an SQS queue as it arrives, keeping the request id
    of each (``request_id(message)``). Read as they come: moto_server's ReceiveMessage slows
    down with every message left in the queue."""

    def __init__(self, aws: Aws, queue: Queue, request_id: Callable[[dict[str, Any]], str]):
        self.aws = aws
        self.queue = queue
        self.request_id = request_id
        self.ids: list[str] = []
        self.empty = False  # the last receive found nothing

    async def run(self) -> None:
        sqs = self.aws.sqs
        while True:
            reply = await self.aws.call(
                sqs.receive_message,
                QueueUrl=self.queue.url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                WaitTimeSeconds=0,
            )
            messages = reply.get("Messages", [])
            self.empty = not messages
            if not messages:
                await asyncio.sleep(0.1)
                continue
            self.ids += [self.request_id(message) for message in messages]
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)
            ]
            await self.aws.call(sqs.delete_message_batch, QueueUrl=self.queue.url, Entries=entries)

    async def read_out(self, expected: set[str]) -> list[str]:
        """Every request id received once ``expected`` all arrived and the queue is empty (call
        when nothing is left to deliver); what arrived after 30 s if some never do."""
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: expected <= set(self.ids), timeout=30, interval=0.1)
        self.empty = False
        await wait_for(lambda: self.empty, timeout=30, interval=0.1)
        return list(self.ids)


def overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def repeated(ids: list[str]) -> dict[str, int]:
    """The ids seen more than once, with how many times."""
    return {i: n for i, n in collections.Counter(ids).items() if n > 1}


def extra(ids: list[str]) -> int:
    """How many entries beyond the first of each id."""
    return len(ids) - len(set(ids))


def refused_writes(process: SuiteProcess, since: float) -> list[dict[str, Any]]:
    """The writes about an event the process logged as refused after ``since`` (epoch seconds):
    fenced off by a newer lease (``event_lease_lost``), or failed because the database ended
    the transaction they were in (``event_system_error`` with BackendUnavailable)."""
    found = []
    for line in process.log().splitlines():
        if '"event_lease_lost"' not in line and '"BackendUnavailable"' not in line:
            continue
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            when = datetime.fromisoformat(entry["timestamp"]).timestamp()
            unavailable = any(
                e.get("exc_type") == "BackendUnavailable" for e in entry.get("exception", [])
            )
            if when >= since and (
                entry["event"] == "event_lease_lost"
                or (entry["event"] == "event_system_error" and unavailable)
            ):
                found.append(entry)
    return found


async def deploy(
    client: AsyncClient, collected: Path, held_runs: Path, failures: Queue, dead_letters: Queue
) -> None:
    collector = f"{FUNCTION_ARN}:collector"
    await client.create_function(
        function_name="collector",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / "collector"),
        environment={"Variables": {"COLLECT_FILE": str(collected)}},
    )
    await client.create_function(
        function_name="worker",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(AWS_FUNCTIONS / "raiser"),
        timeout=FUNCTION_TIMEOUT,
        dead_letter_config={"TargetArn": dead_letters.arn},
    )
    await client.put_function_event_invoke_config(
        function_name="worker",
        maximum_retry_attempts=1,
        destination_config={
            "OnSuccess": {"Destination": collector},
            "OnFailure": {"Destination": failures.arn},
        },
    )
    await client.create_function(
        function_name="held",
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_dir(FUNCTIONS / "sleeper"),
        timeout=FUNCTION_TIMEOUT,
        environment={"Variables": {"RUNS_FILE": str(held_runs), "SLEEP_SECONDS": "0.05"}},
    )
    await client.put_function_concurrency(
        function_name="held", reserved_concurrent_executions=RESERVED
    )
    await client.put_function_event_invoke_config(
        function_name="held", destination_config={"OnSuccess": {"Destination": collector}}
    )


def delivered(router: SuiteProcess) -> set[tuple[str, str]]:
    """The records a router delivered and marked so, as (request id, target): it logs each at
    debug."""
    found = set()
    for line in router.log().splitlines():
        if '"record_delivered"' in line:
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                found.add((entry["request_id"], entry["target"]))
    return found


def retried(router: SuiteProcess) -> set[tuple[str, str]]:
    """The deliveries a router may have sent twice, as (request id, target): one it tried again
    (a try that failed may still have reached the queue: a lost answer), and one it sent after
    its lease had run out (on a loaded machine the other router leased it meanwhile and sent it
    too; the late router's mark is refused and logged)."""
    found = set()
    for line in router.log().splitlines():
        if '"delivery_retry_scheduled"' in line or '"delivery_lease_lost"' in line:
            with contextlib.suppress(ValueError, KeyError):
                entry = json.loads(line)
                found.add((entry["request_id"], entry["target"]))
    return found


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


async def wait_for_query(
    database: asyncpg.Connection, query: str, timeout: float, interval: float = 0.2
) -> None:
    """Poll ``query`` (a count) until it is 0; on timeout, fail with what the database's other
    sessions are doing (a stall shows there: a transaction left open, a lock waited on)."""
    deadline = time.monotonic() + timeout
    while (found := await database.fetchval(query)) != 0:
        if time.monotonic() > deadline:
            sessions = await database.fetch(
                "SELECT pid, application_name, state, wait_event_type, wait_event, "
                "round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_age, "
                "left(query, 100) AS query FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND state <> 'idle'"
            )
            raise AssertionError(
                f"{query!r} still {found} after {timeout} s; busy sessions:\n"
                + "\n".join(str(dict(row)) for row in sessions)
            )
        await asyncio.sleep(interval)


@pytest.mark.timeout(300)
async def test_replicas_lose_nothing_when_an_executor_and_a_router_die_and_one_pauses(
    tmp_path: Path, postgres_url: str, aws: Aws, aws_environment: dict[str, str]
) -> None:
    collected = tmp_path / "collected.jsonl"
    held_runs = tmp_path / "held-runs.jsonl"
    collected.touch()
    held_runs.touch()
    failures = await aws.queue("failures")
    dead_letters = await aws.queue("dlq")
    on_failure_reader = QueueReader(
        aws, failures, lambda m: json.loads(m["Body"])["requestContext"]["requestId"]
    )
    dead_letter_reader = QueueReader(
        aws, dead_letters, lambda m: m["MessageAttributes"]["RequestID"]["StringValue"]
    )
    readers = [
        asyncio.create_task(on_failure_reader.run()),
        asyncio.create_task(dead_letter_reader.run()),
    ]
    cluster = Cluster(tmp_path, postgres_url, {**aws_environment, **ENV})
    paused = cluster["executor-2"]
    successes: set[str] = set()  # accepted request ids, by what they should end as
    failed: set[str] = set()
    by_invoker = collections.Counter[str]()
    timings: dict[str, float] = {}
    began = time.monotonic()

    def mark(name: str) -> None:
        timings[name] = round(time.monotonic() - began, 1)

    database: asyncpg.Connection | None = None
    try:
        database = await asyncpg.connect(postgres_url)
        await cluster.start()
        mark("started")

        invoker_1, invoker_2 = cluster.addresses("invoker")
        async with AsyncClient(invoker_1) as client_1, AsyncClient(invoker_2) as client_2:
            await deploy(client_1, collected, held_runs, failures, dead_letters)
            limit = asyncio.Semaphore(16)

            async def invoke(n: int, function: str, payload: dict[str, Any]) -> None:
                # Both invokers take half of the invokes.
                client, name = (client_1, "invoker-1") if n % 2 else (client_2, "invoker-2")
                async with limit:
                    response = await client.invoke(
                        function_name=function,
                        invocation_type="Event",
                        payload=json.dumps(payload).encode(),
                    )
                assert response["StatusCode"] == 202
                request_id = response["ResponseMetadata"]["RequestId"]
                (failed if "error" in payload else successes).add(request_id)
                by_invoker[name] += 1

            async def send_all() -> None:
                calls = []
                stride = WORKER_EVENTS // HELD_EVENTS
                for n in range(WORKER_EVENTS):
                    payload: dict[str, Any] = {"n": n}
                    if n % FAIL_EVERY == 0:
                        payload["error"] = f"failure {n}"
                    calls.append(invoke(n, "worker", payload))
                    if n % stride == 0 and n // stride < HELD_EVENTS:
                        calls.append(invoke(n, "held", {"held": n}))
                await asyncio.gather(*calls)
                mark("sent")

            async def chaos() -> None:
                # Mid-flight: records are flowing, to the collector and through the routers
                # to SQS, and most events have not run yet.
                await wait_for(
                    lambda: count_lines(collected) >= 100 and len(on_failure_reader.ids) >= 10,
                    timeout=60,
                    interval=0.02,
                )
                mark("chaos")
                cluster.kill("executor-1")
                # The router that has delivered more (one often leases all there is): the
                # one killed had deliveries under way.
                routers = ("router-1", "router-2")
                killed.append(max(routers, key=lambda n: len(delivered(cluster[n]))))
                killed.append("executor-1")
                cluster.kill(killed[0])
                # SIGSTOP the executor's own process (as a long GC pause or a partition would
                # stop it): its sandbox host and sandboxes go on, so runs under way end, and
                # are timed, while their executor cannot settle them.
                paused_at.append(time.time())
                os.kill(cluster.pid("executor-2"), signal.SIGSTOP)
                try:
                    # Past its leases, and until the survivors took over every lease that ran
                    # out (the killed executor's and the paused one's): only then are its late
                    # settles sure to meet newer leases, or events already settled.
                    await asyncio.sleep(LEASE + 1)
                    assert database is not None
                    await wait_for_query(
                        database,
                        "SELECT count(*) FROM events "
                        "WHERE lease_owner IS NOT NULL AND lease_expires < ei_now()",
                        timeout=60,
                    )
                finally:
                    os.kill(cluster.pid("executor-2"), signal.SIGCONT)
                mark("resumed")

            paused_at: list[float] = []
            killed: list[str] = []  # the router, then the executor
            await asyncio.gather(send_all(), chaos())

        assert len(successes) + len(failed) == WORKER_EVENTS + HELD_EVENTS
        assert by_invoker["invoker-1"] > 0 and by_invoker["invoker-2"] > 0

        # Done when no event and no delivery is left: every settle, follow-up event and
        # delivery committed (a collector run ends before its event settles).
        await wait_for_query(
            database,
            "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM deliveries)",
            timeout=120,
        )
        mark("drained")
        # The resumed executor's late writes were refused: by the lease epochs, or by the
        # database, which ended the transaction it was paused in (the backend's connections
        # set idle_in_transaction_session_timeout).
        # (When the pause caught it with nothing in hand, its held events all waiting out a
        # throttle, there is nothing to refuse: the epochs' refusals are the backend tests'.)
        with contextlib.suppress(AssertionError):
            await wait_for(lambda: refused_writes(paused, paused_at[0]), timeout=30)
        refused = refused_writes(paused, paused_at[0])
        recorded_lines = read_lines(collected)
        on_failure = await on_failure_reader.read_out(failed)
        dead = await dead_letter_reader.read_out(failed)
        mark("read")
        left = {
            table: await database.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("events", "deliveries", "failed_deliveries")
        }
        left["slots held"] = await database.fetchval(
            "SELECT count(*) FROM concurrency_slots "
            "WHERE holder IS NOT NULL AND expires_at > ei_now()"
        )
        # The killed processes left nothing running (the sandbox host of the killed executor
        # stops its sandboxes and exits when its executor's socket closes).
        leftovers = {}
        for name in killed:
            with contextlib.suppress(AssertionError):
                await wait_for(lambda n=name: not cluster.left_behind(n), timeout=20)
            leftovers[name] = cluster.left_behind(name)
        # The others stop on SIGTERM, the resumed executor too.
        exit_codes = {
            name: cluster[name].terminate(timeout=30) for name in NAMES if name not in killed
        }
        mark("stopped")
    finally:
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        if database is not None:
            await database.close()
        cluster.cleanup()

    recorded = [line["event"]["requestContext"]["requestId"] for line in recorded_lines]
    delivered_by = {name: delivered(cluster[name]) for name in ("router-1", "router-2")}
    tried_again = retried(cluster["router-1"]) | retried(cluster["router-2"])
    survivor = next(name for name in delivered_by if name not in killed)
    sent_twice = {(i, failures.arn) for i in repeated(on_failure)}
    sent_twice |= {(i, dead_letters.arn) for i in repeated(dead)}
    runs = read_lines(held_runs)
    most_at_once = overlap([(run["started"], run["ended"]) for run in runs])
    lost_ids = {entry["request_id"] for entry in refused}
    # What the resumed executor had in hand (its own events, not the collector's follow-ups,
    # whose ids are derived) ended in one record each all the same, by the executor that took
    # it over.
    lost_twice = {
        destination: repeated([i for i in ids if i in lost_ids])
        for destination, ids in (("collector", recorded), ("OnFailure", on_failure), ("DLQ", dead))
    }
    print(
        f"\ntimings (s from the start): {timings}\n"
        f"accepted: {dict(by_invoker)}; {len(successes)} to succeed, {len(failed)} to fail\n"
        f"late writes refused on the resumed executor: "
        f"{collections.Counter((e['event'], e['function']) for e in refused)}\n"
        f"duplicates: collector {extra(recorded)} {repeated(recorded)}, "
        f"OnFailure {extra(on_failure)} {repeated(on_failure)}, "
        f"dead-letter {extra(dead)} {repeated(dead)}\n"
        f"SQS deliveries by router: { {n: len(d) for n, d in delivered_by.items()} } "
        f"({killed[0]} killed)\n"
        f"held: {len(runs)} runs, at most {most_at_once} at once"
    )

    # Nothing missing, nothing unexpected.
    assert set(recorded) == successes, (
        f"collector: {len(successes - set(recorded))} missing, "
        f"{len(set(recorded) - successes)} unexpected"
    )
    assert set(on_failure) == failed, (
        f"OnFailure: {len(failed - set(on_failure))} missing, "
        f"{len(set(on_failure) - failed)} unexpected"
    )
    assert set(dead) == failed, (
        f"dead-letter: {len(failed - set(dead))} missing, {len(set(dead) - failed)} unexpected"
    )
    assert {line["event"]["requestContext"]["condition"] for line in recorded_lines} == {"Success"}

    # Duplicates only within the at-least-once window of the processes that stopped working:
    # - the collector's: a run that ended on the killed or the paused executor but had not
    #   settled runs again on another (its settle is fenced, the function's own side effect,
    #   a line in the file, is not): at most the events each had running, its concurrency;
    # - the queues': a message the killed router had sent but not yet marked delivered is
    #   sent again by the other router: at most the deliveries it had in flight.
    # - a message sent again after a try that failed but had reached the queue (an answer
    #   lost on a loaded machine), or sent by both routers when one outlasted its lease: the
    #   Router logged the retry or the lost lease.
    assert extra(recorded) <= 2 * EXECUTOR_CONCURRENCY
    after_kill = sent_twice - tried_again
    assert len(after_kill) <= ROUTER_CONCURRENCY
    # ... and each is one of those: a delivery the killed router never marked delivered, which
    # the other router delivered (and marked) after, or one tried again.
    assert not after_kill & delivered_by[killed[0]]
    assert after_kill <= delivered_by[survivor]
    # Both routers delivered: the one killed, before it was, and the other.
    assert all(delivered_by.values())
    assert lost_twice == {"collector": {}, "OnFailure": {}, "DLQ": {}}

    # Reserved concurrency held across the executors.
    assert len(runs) >= HELD_EVENTS
    assert most_at_once <= RESERVED

    # Nothing left behind.
    assert left == {"events": 0, "deliveries": 0, "failed_deliveries": 0, "slots held": 0}
    assert leftovers == {killed[0]: [], "executor-1": []}
    assert all(code == 0 for code in exit_codes.values()), exit_codes
