"""``eventinvoke up`` runs its sandboxes from a child process, the sandbox host. Killed with -9
mid-invocation, the suite takes the host and the running sandbox with it: nothing keeps running
a function for a suite that is gone (its event runs again after the restart, docs/architecture.md
§3.2)."""

from __future__ import annotations

from pathlib import Path

import psutil
from conftest import FUNCTIONS, read_lines, wait_for, zip_dir
from processes import SuiteProcess, free_port, gone, sandboxes

from eventinvoke.client import AsyncClient

ENV = {"EVENTINVOKE_LOG_FORMAT": "json"}
SANDBOX_HOST = "eventinvoke.executor.host"


async def test_kill_9_of_up_stops_its_sandbox_host_and_running_sandbox(tmp_path: Path) -> None:
    starts = tmp_path / "starts.jsonl"
    starts.touch()
    (tmp_path / "runs.jsonl").touch()
    listen = f"127.0.0.1:{free_port()}"
    args = ["up", "--data-dir", str(tmp_path / "data"), "--http-listen", "127.0.0.1:0"]
    suite = SuiteProcess(args, tmp_path / "up.log", ENV).start(listen)
    try:
        async with AsyncClient(listen) as client:
            await client.create_function(
                function_name="sleeper",
                runtime="python3.11",
                handler="index.handler",
                zip_file=zip_dir(FUNCTIONS / "sleeper"),
                timeout=120,
                environment={
                    "Variables": {
                        "RUNS_FILE": str(tmp_path / "runs.jsonl"),
                        "STARTS_FILE": str(starts),
                        "SLEEP_SECONDS": "100",
                    }
                },
            )
            response = await client.invoke("sleeper", b"{}", invocation_type="Event")
            assert response["StatusCode"] == 202
        await wait_for(lambda: read_lines(starts) != [], timeout=20)

        assert suite.process is not None
        [host] = psutil.Process(suite.process.pid).children()
        assert SANDBOX_HOST in host.cmdline()
        [sandbox] = sandboxes(host)

        suite.kill()

        await wait_for(lambda: gone(host) and gone(sandbox), timeout=15)
        assert read_lines(tmp_path / "runs.jsonl") == []  # it never finished its sleep
    finally:
        suite.cleanup()
