"""Functions isolated from the server and from each other (issue #16 §2, SECURITY.md
"Functions"): a function tries to read the database, another function's code, the server's
environment, to write its own code and to take another sandbox's events, and fails at each;
its own /tmp and variables are there. Real processes: the tests run as root, as a server that
isolates its sandboxes does."""

from __future__ import annotations

import asyncio
import io
import json
import os
import socket
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from conftest import FUNCTIONS, Running, started_suite, zip_dir
from deployment.harness import component, container, render, workloads
from processes import SuiteProcess, free_port

from eventinvoke.client import Client
from eventinvoke.executor import isolation
from eventinvoke.server.config import Settings

pytestmark = pytest.mark.skipif(not isolation.is_root(), reason="isolating sandboxes needs root")

UIDS = Settings.__dataclass_fields__["sandbox_uids"].default  # the default range
SECRET = "do-not-leak-7f3a"


@pytest.fixture
async def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Running]:
    # What an operator's server holds in its environment; the sandbox host inherits it.
    monkeypatch.setenv("EVENTINVOKE_TEST_SECRET", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    async with started_suite(tmp_path, sandbox_uids=UIDS) as running:
        yield running


async def deploy(running: Running, name: str, extra: str = "") -> None:
    """The prober; ``extra`` makes a package of its own (another code directory)."""
    zip_file = zip_dir(FUNCTIONS / "prober")
    if extra:
        buffer = io.BytesIO(zip_file)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr("extra.txt", extra)
        zip_file = buffer.getvalue()
    await running.client.create_function(
        function_name=name,
        runtime="python3.11",
        handler="index.handler",
        zip_file=zip_file,
        environment={"Variables": {"OWN_SETTING": "mine"}},
    )


async def probe(running: Running, name: str, **tries: Any) -> dict[str, Any]:
    response = await running.client.invoke(name, json.dumps(tries).encode())
    assert "FunctionError" not in response, response["Payload"]
    return json.loads(response["Payload"])


async def test_a_function_reaches_nothing_of_the_server_or_of_other_functions(
    isolated: Running,
) -> None:
    await deploy(isolated, "prober")
    await deploy(isolated, "neighbour", extra="another package")
    neighbour = await probe(isolated, "neighbour")
    data_dir = isolated.suite.settings.data_dir
    neighbour_code = neighbour["environ"]["LAMBDA_TASK_ROOT"]
    host_pid = isolated.suite._sandboxes.pid  # type: ignore[union-attr]
    server_pids = [os.getpid(), host_pid]

    report = await probe(
        isolated,
        "prober",
        read=[
            str(data_dir / "eventinvoke.db"),
            f"{neighbour_code}/index.py",
            f"{neighbour['environ']['TMPDIR']}/scratch",
            *(f"/proc/{pid}/environ" for pid in server_pids),
        ],
        list=[str(data_dir), str(data_dir / "logs"), neighbour_code],
        write=[".", neighbour_code],
        signal=[neighbour["pid"], *server_pids],
    )

    # Its own user and group (not root, not the neighbour's), no other groups.
    assert report["uid"] != 0 and report["gid"] != 0
    assert report["uid"] != neighbour["uid"] and report["gid"] != neighbour["gid"]
    assert report["groups"] in ([], [report["gid"]])
    assert set(report["read"].values()) == {"PermissionError"}, report["read"]
    assert set(report["list"].values()) == {"PermissionError"}, report["list"]
    assert set(report["write"].values()) == {"PermissionError"}, report["write"]
    assert set(report["signal"].values()) == {"PermissionError"}, report["signal"]
    # Its environment: Lambda's and its own, nothing of the server's.
    environ = report["environ"]
    assert environ["OWN_SETTING"] == "mine"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "prober"
    assert not [name for name in environ if name.startswith("EVENTINVOKE_")]
    assert SECRET not in json.dumps(environ)
    # Its own /tmp works, and is nobody else's.
    assert report["tmp"] == "ok" and neighbour["tmp"] == "ok"
    assert environ["TMPDIR"] == environ["HOME"] != neighbour["environ"]["TMPDIR"]


async def test_the_server_environment_is_unreadable_through_proc(isolated: Running) -> None:
    """The kernel already refuses: /proc/<pid>/environ needs ptrace access to the process."""
    await deploy(isolated, "prober")
    host_pid = isolated.suite._sandboxes.pid  # type: ignore[union-attr]
    report = await probe(isolated, "prober", read=[f"/proc/{host_pid}/environ"])
    assert report["read"] == {f"/proc/{host_pid}/environ": "PermissionError"}
    assert SECRET.encode() in Path(f"/proc/{host_pid}/environ").read_bytes()  # it is there


async def test_only_its_sandbox_takes_events_from_a_runtime_api(isolated: Running) -> None:
    await deploy(isolated, "prober")
    await deploy(isolated, "neighbour", extra="another package")
    api = (await probe(isolated, "neighbour"))["environ"]["AWS_LAMBDA_RUNTIME_API"]

    # Another function's sandbox (another uid) is cut off before its request is read.
    report = await probe(isolated, "prober", take=[api])
    assert report["take"] == {api: "ConnectionResetError"}

    # So is any other local process, root included: here, one that waits in /next for the
    # neighbour's next event.
    host, port = api.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    invocation = asyncio.create_task(probe(isolated, "neighbour"))
    try:  # reset (aborted), or closed: either way, no event
        assert await asyncio.wait_for(reader.read(), 5) == b""
    except ConnectionResetError:
        pass
    writer.close()
    # The event went to the neighbour's own runtime, in the same sandbox as before.
    assert (await invocation)["environ"]["AWS_LAMBDA_RUNTIME_API"] == api


async def test_node_and_custom_runtimes_run_isolated(isolated: Running) -> None:
    """The bash runtime connects to its Runtime API once per request: each is its own."""
    client = isolated.client
    await client.create_function(
        "node", "nodejs20.x", "index.handler", zip_dir(FUNCTIONS / "seed-nodejs")
    )
    await client.create_function(
        "bash", "provided.al2023", "any.handler", zip_dir(FUNCTIONS / "shell-runtime")
    )
    assert "FunctionError" not in await client.invoke("node", b'{"Success": true}')
    for n in range(3):
        answer = json.loads((await client.invoke("bash", b'{"n": %d}' % n))["Payload"])
        assert answer["echo"] == {"n": n}


async def test_a_function_cannot_write_its_code(isolated: Running) -> None:
    await deploy(isolated, "prober")
    report = await probe(isolated, "prober")
    code = Path(report["environ"]["LAMBDA_TASK_ROOT"])
    assert code.stat().st_uid == 0 and oct(code.stat().st_mode & 0o777) == "0o750"
    assert (code / "index.py").stat().st_uid == 0
    assert oct((code / "index.py").stat().st_mode & 0o777) == "0o644"
    assert oct(isolated.suite.settings.data_dir.stat().st_mode & 0o777) == "0o700"


async def test_a_sandbox_user_is_cleared_before_it_is_used_again(isolated: Running) -> None:
    """A process a function left behind, outside its process group, dies with its sandbox."""
    confinement = isolation.Confinement((61500, 61500))
    try:
        code = isolated.tmp_path / "code"
        code.mkdir()
        place = confinement.enter(code)
        with open(os.devnull, "wb") as log:
            straggler = isolation.start_process(
                ["setsid", "sleep", "60"], place, code, {"PATH": "/usr/bin:/bin"}, log.fileno()
            )
        # setsid forks the sleep into a session of its own, and returns.
        assert await asyncio.wait_for(straggler.wait(), 5) == 0
        assert _processes_of(61500)
        confinement.leave(place)
        assert not _processes_of(61500)
        assert code.stat().st_gid == 0  # closed again
    finally:
        confinement.close()


def test_a_connection_is_known_by_its_owner() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            accepted, peer = server.accept()
            with accepted:
                assert isolation.tcp_owner(peer, server.getsockname()) == os.geteuid()
                assert isolation._tcp_owner_from_proc(peer, server.getsockname()) == 0
                assert client.getsockname() == peer
        assert isolation.tcp_owner(("127.0.0.1", 1), server.getsockname()) is None


async def test_a_server_that_is_not_root_says_so_and_runs_functions_as_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation, "is_root", lambda: False)
    with structlog.testing.capture_logs() as logged:
        async with started_suite(tmp_path, sandbox_uids=UIDS, sandbox_host=False) as running:
            await deploy(running, "prober")
            report = await probe(running, "prober")
    warnings = [line for line in logged if line["event"] == "sandboxes_not_isolated"]
    assert len(warnings) == 1 and "not root" in warnings[0]["reason"]
    assert report["uid"] == os.geteuid()
    assert report["tmp"] == "ok"


def _processes_of(uid: int) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()
        state = next(line for line in status.splitlines() if line.startswith("State:")).split()
        if str(uid) in uids[1:4] and state[1] not in ("Z", "X"):
            found.append(pid)
    return found


def _as_container(security: dict[str, Any]) -> list[str]:
    """The command a process runs under to get what a container's ``securityContext`` gives it:
    its user and group, only the capabilities added, no privilege gained by exec."""
    added = [f"+{name.lower()}" for name in security["capabilities"].get("add", [])]
    return [
        "setpriv",
        f"--reuid={security['runAsUser']}",
        f"--regid={security['runAsGroup']}",
        "--clear-groups",
        f"--bounding-set={','.join(['-all', *added])}",
        "--inh-caps=-all",
        *(["--no-new-privs"] if security["allowPrivilegeEscalation"] is False else []),
    ]


def test_the_executors_kubernetes_security_context_is_enough_to_isolate_functions(
    tmp_path: Path,
) -> None:
    """The cluster manifests' executor runs as root with a handful of capabilities: a suite run
    with exactly those, from an empty directory with its defaults, still gives each function a
    user of its own that reaches nothing of the server's."""
    [executor] = [w for w in workloads(render("cluster")) if component(w) == "executor"]
    security = container(executor)["securityContext"]
    environ = {k: v for k, v in os.environ.items() if k != "EVENTINVOKE_SANDBOX_UIDS"}
    environ["EVENTINVOKE_TEST_SECRET"] = SECRET
    workdir = tmp_path / "empty"
    workdir.mkdir()
    suite = SuiteProcess(["up"], tmp_path / "up.log", cwd=workdir, under=_as_container(security))
    suite.env = environ
    suite.start(f"127.0.0.1:{free_port()}", timeout=60)
    try:
        with Client(suite.address) as client:
            for name in ("prober", "neighbour"):
                client.create_function(
                    function_name=name,
                    runtime="python3.11",
                    handler="index.handler",
                    zip_file=zip_dir(FUNCTIONS / "prober"),
                )
            neighbour = json.loads(client.invoke("neighbour", b"{}")["Payload"])
            tries = {
                "read": [str(workdir / ".eventinvoke" / "eventinvoke.db"), "/proc/1/environ"],
                "signal": [neighbour["pid"], suite.process.pid],  # type: ignore[union-attr]
            }
            report = json.loads(client.invoke("prober", json.dumps(tries).encode())["Payload"])
    finally:
        code = suite.terminate()
    assert code == 0, suite.log()[-3000:]
    assert "sandboxes_not_isolated" not in suite.log()
    first, last = (int(n) for n in UIDS.split("-"))
    assert first <= report["uid"] <= last and report["uid"] != neighbour["uid"]
    assert set(report["read"].values()) == {"PermissionError"}, report["read"]
    assert set(report["signal"].values()) == {"PermissionError"}, report["signal"]
    assert SECRET not in json.dumps(report["environ"])
    assert report["tmp"] == "ok"
