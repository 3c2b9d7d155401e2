"""eventinvoke as real OS processes (`up`, `serve`), for crash and deployment tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import psutil
from grpc_health.v1 import health_pb2, health_pb2_grpc

from eventinvoke.executor.forkserver import FORK_SERVER

EVENTINVOKE = str(Path(sys.executable).with_name("eventinvoke"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SuiteProcess:
    """``eventinvoke <args>`` in its own process group, with its output in a log file."""

    def __init__(
        self,
        args: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        under: list[str] | None = None,
    ) -> None:
        self.args = args
        self.under = under or []  # a command the server runs under, as ["setpriv", ...]
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self, listen: str, timeout: float = 20.0) -> SuiteProcess:
        self.address = listen
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [*self.under, EVENTINVOKE, *self.args, "--listen", listen],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        wait_serving(listen, timeout, self)
        return self

    def kill(self) -> None:
        """SIGKILL the server alone, as in a real crash (its sandbox host then stops the
        sandboxes)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, and wait for the graceful stop; one that does not stop is killed, with its
        process group, before the timeout is raised."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.cleanup()
            raise

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_serving(address: str, timeout: float, process: SuiteProcess | None = None) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if process is not None and not process.alive():
                raise AssertionError(f"server exited:\n{process.log()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{address} not serving after {timeout}s")
            time.sleep(0.1)


def sandboxes(host: psutil.Process) -> list[psutil.Process]:
    """A sandbox host's sandboxes: its children but the fork servers (the templates the Python
    ones are forked from)."""
    found = []
    for child in host.children():
        try:
            if FORK_SERVER not in child.environ():
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def gone(process: psutil.Process) -> bool:
    """Whether a process has exited (a zombie not yet reaped counts as exited)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
