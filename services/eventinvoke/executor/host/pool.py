"""HostedPool: the executor's side of the sandbox host (see server.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

import structlog

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.host import frames
from eventinvoke.executor.memory import child_pids
from eventinvoke.executor.sandbox import Invocation, Outcome, SandboxSettings, Throttled

log = structlog.get_logger("eventinvoke.executor")

START_TIMEOUT = 30.0  # seconds a new host has to say it is ready
STOP_GRACE = 10.0  # seconds the host has to stop its sandboxes before it is killed
MAX_REFS = 1024  # function configurations the host remembers; past this it forgets them all
READY_CALL = 0  # the call number of the host's READY
# Seconds a host has to answer a ping, sent every third of that: a host whose loop is stuck
# would otherwise hold its invocations, and their events, while the executor renews their leases.
LIVENESS_TIMEOUT = 10.0


class SandboxHostError(RuntimeError):
    """The sandbox host failed an invocation or went away: a system error, not the function's
    (the executor retries the event without spending an attempt)."""


class _Connection:
    """One running host: its process, its link and the calls waiting for an answer."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.link = frames.Link(self._received, self._lost)
        self.waiting: dict[int, asyncio.Future[Outcome | None]] = {}
        # ref per function configuration sent, by sandbox key (one configuration per key).
        self.refs: dict[str, tuple[FunctionConfig, Path, int]] = {}
        self.closing = False
        self.lost_because = "the sandbox host exited"
        self.watchdog: asyncio.Task[None] | None = None

    def _received(self, message: frames.Message) -> None:
        kind, call = message[0], message[1]
        future = self.waiting.pop(call, None)
        if future is None or future.done():  # its caller was cancelled
            return
        if kind == frames.OUTCOME:
            future.set_result(Outcome(*message[2:]))
        elif kind == frames.THROTTLED:
            future.set_exception(Throttled(message[2]))
        elif kind in (frames.FLUSHED, frames.READY, frames.PONG):
            future.set_result(None)
        else:
            future.set_exception(SandboxHostError(message[2]))

    def _lost(self, exc: Exception | None) -> None:
        if not self.closing:
            log.error("sandbox_host_lost", pid=self.process.pid, calls_failed=len(self.waiting))
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(SandboxHostError(self.lost_because))


class HostedPool:
    """A SandboxPool run by a child process, behind the same interface.

    The executor's event loop then spends an invocation on one message each way, batched with
    the others of the same loop turn, while the host's loop does the Runtime API, log and
    memory-watch work on the other core. A host that dies, or leaves a ping unanswered for
    ``liveness`` seconds (and is then killed with its sandboxes), fails its invocations in
    flight with SandboxHostError and is started again on the next one.
    """

    def __init__(
        self,
        settings: SandboxSettings,
        log_format: str,
        log_level: str,
        liveness: float = LIVENESS_TIMEOUT,
    ) -> None:
        self._settings = settings
        self._liveness = liveness
        self._log = (log_format, log_level)
        self._connection: _Connection | None = None
        self._starting = asyncio.Lock()
        self._calls = READY_CALL
        self._refs = 0
        self._closed = False

    @property
    def log_dir(self) -> Path:
        return self._settings.log_dir

    @property
    def pid(self) -> int | None:
        """The host's process id, while it runs."""
        return self._connection.process.pid if self._connection is not None else None

    async def start(self) -> None:
        """Start the host and wait until it is ready (SandboxHostError if it is not)."""
        await self._connect()

    async def run(
        self, function: FunctionConfig, code_dir: Path, invocation: Invocation, *, wait: bool = True
    ) -> Outcome:
        connection = self._connection
        if connection is None or connection.link.closed:
            connection = await self._connect()
        ref = self._ref(connection, function, code_dir)
        call, future = self._call(connection)
        connection.link.send(
            (
                frames.RUN,
                call,
                ref,
                invocation.request_id,
                invocation.payload,
                invocation.invoked_function_arn,
                invocation.client_context,
                invocation.tail_log,
                invocation.trace_id,
                wait,
            )
        )
        try:
            outcome = await future
        except asyncio.CancelledError:
            # As in process: the invocation is abandoned and its sandbox not reused.
            connection.waiting.pop(call, None)
            connection.link.send((frames.CANCEL, call))
            raise
        assert outcome is not None
        return outcome

    async def flush_log_indexes(self) -> None:
        connection = self._connection
        if connection is None or connection.link.closed:
            return  # a host that is gone wrote what it could
        call, future = self._call(connection)
        connection.link.send((frames.FLUSH, call))
        with contextlib.suppress(SandboxHostError):
            await future

    async def close(self) -> None:
        self._closed = True
        async with self._starting:
            connection, self._connection = self._connection, None
        if connection is not None:
            await _stop(connection)

    def _call(self, connection: _Connection) -> tuple[int, asyncio.Future[Outcome | None]]:
        if connection.link.closed:  # lost between its start and this call
            raise SandboxHostError("the sandbox host exited")
        self._calls += 1
        future: asyncio.Future[Outcome | None] = asyncio.get_running_loop().create_future()
        connection.waiting[self._calls] = future
        return self._calls, future

    def _ref(self, connection: _Connection, function: FunctionConfig, code_dir: Path) -> int:
        """The number the host knows this configuration by, sent once per configuration."""
        refs = connection.refs
        cached = refs.get(function.sandbox_key)
        if cached is not None:
            # The store's cache hands out the same object until the configuration changes.
            if cached[1] == code_dir and (cached[0] is function or cached[0] == function):
                return cached[2]
            connection.link.send((frames.FORGET, cached[2]))
        elif len(refs) >= MAX_REFS:
            for _, _, old in refs.values():
                connection.link.send((frames.FORGET, old))
            refs.clear()
        self._refs += 1
        refs[function.sandbox_key] = (function, code_dir, self._refs)
        connection.link.send((frames.CONFIG, self._refs, function, str(code_dir)))
        return self._refs

    async def _connect(self) -> _Connection:
        async with self._starting:
            if self._closed:
                raise SandboxHostError("the sandbox pool is closed")
            connection = self._connection
            if connection is not None and not connection.link.closed:
                return connection
            if connection is not None:
                await _stop(connection)
            self._connection = connection = await self._spawn()
            return connection

    async def _spawn(self) -> _Connection:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "eventinvoke.executor.host",
                str(theirs.fileno()),
                frames.settings_to_json(self._settings),
                *self._log,
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                # Its own session: a Ctrl-C meant for the executor must not stop the sandboxes
                # under the invocations the executor is still draining.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        connection = _Connection(process)
        ready: asyncio.Future[Outcome | None] = asyncio.get_running_loop().create_future()
        connection.waiting[READY_CALL] = ready
        try:
            try:
                await asyncio.get_running_loop().create_unix_connection(
                    lambda: connection.link, sock=ours
                )
            except OSError:
                ours.close()
                raise
            await asyncio.wait_for(ready, START_TIMEOUT)
        except (OSError, SandboxHostError, TimeoutError) as error:
            await _stop(connection)
            raise SandboxHostError(
                f"the sandbox host did not start (exit code {process.returncode}): {error}"
            ) from None
        connection.watchdog = asyncio.create_task(self._watch(connection))
        return connection

    async def _watch(self, connection: _Connection) -> None:
        """Ping the host; kill one that does not answer in time. Its process lives, but its
        loop no longer turns: its calls then fail (their events are retried) and the next call
        starts a new host."""
        while True:
            await asyncio.sleep(self._liveness / 3)
            try:
                call, future = self._call(connection)
            except SandboxHostError:
                return  # gone already
            connection.link.send((frames.PING, call))
            try:
                await asyncio.wait_for(future, self._liveness)
            except SandboxHostError:
                return
            except TimeoutError:
                connection.waiting.pop(call, None)
                log.error(
                    "sandbox_host_unresponsive",
                    pid=connection.process.pid,
                    seconds=self._liveness,
                    calls_failed=len(connection.waiting),
                )
                connection.lost_because = (
                    f"the sandbox host stopped responding for {self._liveness:g} s and was killed"
                )
                connection.closing = True  # logged here, not again as lost
                _kill(connection.process)
                return


async def _stop(connection: _Connection) -> None:
    """Close the link (the host then stops its sandboxes and exits); kill it if it lingers."""
    connection.closing = True
    if connection.watchdog is not None:
        connection.watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await connection.watchdog
    connection.link.close()
    try:
        await asyncio.wait_for(connection.process.wait(), STOP_GRACE)
    except TimeoutError:
        _kill(connection.process)
        await connection.process.wait()


def _kill(host: asyncio.subprocess.Process) -> None:
    """Kill the host and its sandboxes, which a killed host cannot stop.

    Signalled through a pidfd, so a pid reused since the host was reaped is left alone. Stopped
    first, the host cannot start or reap a sandbox meanwhile, so the pids read are still its
    children's. Each sandbox leads its own process group, which takes the function's own
    children too; one caught before it leads its group is killed alone.
    """
    if host.returncode is not None:
        return
    try:
        pidfd = os.pidfd_open(host.pid)
    except ProcessLookupError:
        return
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGSTOP)
        for sandbox in child_pids(host.pid):
            for kill in (os.killpg, os.kill):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    kill(sandbox, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        os.close(pidfd)
