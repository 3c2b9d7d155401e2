"""Cluster mode from the command line: ``eventinvoke cluster`` (``make cluster``) and the one-line
errors a bad ``--backend`` gets at start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import psutil
import pytest
from conftest import FUNCTIONS, wait_for, zip_dir
from processes import EVENTINVOKE, free_port, gone
from prometheus_client.parser import text_string_to_metric_families

from eventinvoke.client import AsyncClient


def _environment() -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EVENTINVOKE_")}
    # The collector writes into the test's directory: functions run as the server (conftest).
    return {**environ, "EVENTINVOKE_SANDBOX_UIDS": "none"}


def _with(url: str, **parts: str) -> str:
    return urlunsplit(urlsplit(url)._replace(**parts))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"netloc": "nobody:sekret@{host}"}, 'role "nobody" does not exist'),
        ({"path": "/no_such_database"}, 'database "no_such_database" does not exist'),
        ({"netloc": "postgres:sekret@127.0.0.1:{dead}"}, "Connection refused"),
    ],
    ids=["refused-login", "no-database", "unreachable"],
)
def test_a_backend_that_cannot_be_used_stops_the_server_with_one_line(
    postgres_url: str, tmp_path: Path, change: dict[str, str], reason: str
) -> None:
    host = urlsplit(postgres_url).netloc.rsplit("@", 1)[-1]
    url = _with(
        postgres_url, **{k: v.format(host=host, dead=free_port()) for k, v in change.items()}
    )
    listen = ["--listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}"]

    run = subprocess.run(
        [EVENTINVOKE, "up", "--backend", url, *listen],
        cwd=tmp_path,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 1
    assert run.stdout == ""
    [line] = run.stderr.splitlines()
    shown = url.replace(":sekret@", ":***@")  # the password never appears
    assert line.startswith(f"Error: PostgreSQL at {shown} is unavailable: ")
    assert reason in line
    assert "sekret" not in run.stderr


def _free_block(size: int) -> int:
    """A first port with ``size`` free ports from it (as the cluster lays them out)."""
    for _ in range(50):
        first = free_port()
        if first + size > 65000:
            continue
        try:
            for port in range(first, first + size):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return first
    raise AssertionError("no block of free ports")


def _start_cluster(
    backend: str, first: int, http: str, cwd: Path, log: Any
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [EVENTINVOKE, "cluster", "--backend", backend, "--executors", "2", "--routers", "1",
         "--first-port", str(first), "--http-listen", http,
         "--metrics-listen", f"127.0.0.1:{first + 40}", "--", "--time-scale", "0.01"],
        cwd=cwd, env=_environment(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def test_the_cluster_command_runs_every_service_as_its_own_process(
    postgres_url: str, tmp_path: Path
) -> None:
    first = _free_block(46)  # gRPC from first to first + 30, metrics from first + 40
    http = f"127.0.0.1:{free_port()}"
    collected = tmp_path / "collected.jsonl"
    collected.touch()
    log = open(tmp_path / "cluster.log", "wb")  # noqa: SIM115
    cluster = _start_cluster(postgres_url, first, http, tmp_path, log)
    members: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        text = ""
        while "Ctrl-C stops them all." not in text:
            assert cluster.poll() is None, f"the cluster stopped:\n{text}"
            assert time.monotonic() < deadline, f"the cluster did not come up:\n{text}"
            await asyncio.sleep(0.2)
            text = (tmp_path / "cluster.log").read_text(errors="replace")
        members = psutil.Process(cluster.pid).children()
        names = sorted(line.split()[0] for line in text.splitlines() if " pid " in line)
        assert names == ["executor-1", "executor-2", "gateway", "invoker-1", "invoker-2",
                         "router-1"]  # fmt: skip
        assert len(members) == 6
        invokers = f"ipv4:127.0.0.1:{first},127.0.0.1:{first + 1}"
        assert f"export EVENTINVOKE_ENDPOINT={invokers}" in text

        async with AsyncClient(invokers) as client:
            for name, source, env in [
                ("collector", "collector", {"COLLECT_FILE": str(collected)}),
                ("fn", "echo", {}),
            ]:
                await client.create_function(
                    function_name=name,
                    runtime="python3.11",
                    handler="index.handler",
                    zip_file=zip_dir(FUNCTIONS / source),
                    environment={"Variables": env},
                )
            await client.put_function_event_invoke_config(
                function_name="fn",
                destination_config={
                    "OnSuccess": {
                        "Destination": "arn:aws:lambda:us-east-1:000000000000:function:collector"
                    }
                },
            )
            ids = []
            for n in range(10):  # through both invokers, round robin
                answer = await client.invoke(
                    function_name="fn", invocation_type="Event", payload=json.dumps({"n": n})
                )
                ids.append(answer["ResponseMetadata"]["RequestId"])
        await wait_for(lambda: len(collected.read_text().splitlines()) >= 10, timeout=30)
        records = [json.loads(line)["event"] for line in collected.read_text().splitlines()]
        assert sorted(r["requestContext"]["requestId"] for r in records) == sorted(ids)

        # Each member serves its own metrics, at the address the summary gives it.
        scraped = {}
        for line in text.splitlines():
            if " pid " in line and " metrics " in line:
                name, url = line.split()[0], line.split(" metrics ")[1].strip()
                async with aiohttp.ClientSession() as session, session.get(url) as response:
                    body = await response.text()
                scraped[name] = {f.name: f for f in text_string_to_metric_families(body)}
        assert sorted(scraped) == names
        for name, families in scraped.items():
            [info] = families["eventinvoke_info"].samples
            assert info.labels["roles"] == name.split("-")[0], name

        def total(role: str, family: str) -> float:
            return sum(
                s.value
                for member, families in scraped.items()
                if member.startswith(role) and family in families
                for s in families[family].samples
                if s.labels.get("function_name") == "fn" and s.name.endswith("_total")
            )

        assert total("invoker", "eventinvoke_async_events_received") == 10
        assert total("executor", "eventinvoke_invocations") == 10

        cluster.send_signal(signal.SIGINT)
        assert cluster.wait(90) == 0  # generous: members drain in parallel, also on a busy machine
        assert all(gone(member) for member in members)
    finally:
        if cluster.poll() is None:
            cluster.kill()
        # Only the cluster's own members: the session's moto_server is a child of this process too.
        for member in members:
            with contextlib.suppress(psutil.NoSuchProcess):
                for process in [*member.children(recursive=True), member]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        process.kill()
        log.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "--metrics-listen", "127.0.0.1:9100"], "give --metrics-listen before --"),
        (["--metrics-listen", "9100"], "'9100' is not host:port"),
    ],
    ids=["one-address-for-all", "no-host"],
)
def test_a_metrics_address_the_members_cannot_share_is_refused(
    tmp_path: Path, args: list[str], message: str
) -> None:
    run = subprocess.run(
        [EVENTINVOKE, "cluster", "--backend", "postgresql://nobody@127.0.0.1:1/none", *args],
        cwd=tmp_path, env=_environment(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert run.returncode == 252  # the AWS CLI's parameter error, as every command gives
    assert message in run.stderr
    assert "Traceback" not in run.stderr
