"""Sandboxes: one runtime process plus its Runtime API server, and the pool that reuses them.

A sandbox runs one invocation at a time. It stays warm for the next invocation of the same
``FunctionConfig.sandbox_key`` until it is idle too long, evicted for room, or its function's
code or configuration changes. A timeout, a crash or an init error discards it, so the next
invocation starts fresh (and re-runs init), as on AWS.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from eventinvoke.core.errors import ACCOUNT_CONCURRENCY_EXCEEDED, RESERVED_CONCURRENCY_EXCEEDED
from eventinvoke.core.model import UNHANDLED, FunctionConfig, Invocation
from eventinvoke.executor import logs
from eventinvoke.executor.forkserver import FORK, Starter
from eventinvoke.executor.isolation import (
    Child,
    Confinement,
    Place,
    base_environment,
    reap_orphans,
)
from eventinvoke.executor.launchers import (
    Launcher,
    SetupError,
    function_error_of,
    launcher_for,
)
from eventinvoke.executor.memory import PEAK_READ_INTERVAL, WATCH_INTERVAL, peak_rss_kb, tree_rss_kb
from eventinvoke.executor.pacing import Pacer
from eventinvoke.executor.runtime_api import Event, RuntimeApi

# How long a new sandbox may take to reach its first /next (AWS's init phase limit).
INIT_TIMEOUT = 10.0
TAIL_BYTES = 4096
KEY_CACHE_SIZE = 1024  # reuse keys remembered (one per function configuration)


@dataclass(frozen=True)
class Outcome:
    payload: bytes  # result JSON bytes, or the error object JSON bytes
    function_error: str | None  # "Unhandled" on a function error ("Handled": see HANDLED)
    log_tail: bytes = b""  # last 4096 bytes of this invocation's log, when tail_log
    duration_ms: float = 0.0


@dataclass(frozen=True)
class SandboxSettings:
    log_dir: Path
    region: str = "us-east-1"
    max_per_function: int = 8
    max_total: int = 32
    idle_seconds: float = 300.0  # warm sandboxes idle longer are stopped
    log_retention_bytes: int = logs.RETENTION_BYTES  # per function; older log files go first
    # Each sandbox's own user is leased from this range of uids (and its code directory's group
    # from the same range of gids); None: sandboxes run as the server's user (isolation.py).
    uids: tuple[int, int] | None = None
    python: str = sys.executable  # the interpreter of python3.x functions
    start: str = FORK  # how Python sandboxes start: forked from a template, or exec'd
    queue_after: int = 0  # sandboxes a function has before its async backlog queues (pacing.py)


def _failed_setup(error: SetupError, request_id: str) -> Outcome:
    """The sandbox could not be started: the invocation fails without running anything."""
    return Outcome(platform_error(error.error_type, request_id, error.message), UNHANDLED)


def platform_error(error_type: str, request_id: str, message: str) -> bytes:
    """An error object Lambda itself produces (docs/aws-behaviour.md §1.5), e.g. for timeouts
    and crashes."""
    body = {"errorType": error_type, "errorMessage": f"RequestId: {request_id} Error: {message}"}
    return json.dumps(body, separators=(",", ":")).encode()


# -- one sandbox -------------------------------------------------------------------------

ReuseKey = tuple[str, ...]


def reuse_key(function: FunctionConfig, code_dir: Path) -> ReuseKey:
    """When a warm sandbox may serve an invocation.

    ``sandbox_key`` is the contract (it changes with every code or configuration update); the
    fields a running process has baked in are added so that a caller which forgets to bump the
    revision still never runs stale code or a stale environment.
    """
    environment = json.dumps(function.environment, sort_keys=True)
    return (
        function.sandbox_key,
        str(code_dir),
        function.code_sha256,
        function.runtime,
        function.handler,
        str(function.memory_size),
        environment,
    )


def _exit_reason(returncode: int) -> str:
    # Worded like AWS, which reports Go's os/exec messages.
    if returncode == 0:
        return "Runtime exited without providing a reason"
    if returncode > 0:
        return f"Runtime exited with error: exit status {returncode}"
    name = signal.strsignal(-returncode) or f"signal {-returncode}"
    return f"Runtime exited with error: signal: {name[0].lower()}{name[1:]}"


def _decode_client_context(value: str) -> str:
    if not value:
        return ""
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


class Sandbox:
    """One runtime process and the Runtime API server it talks to."""

    def __init__(
        self,
        function: FunctionConfig,
        code_dir: Path,
        launcher: Launcher,
        settings: SandboxSettings,
        confinement: Confinement,
        starter: Starter,
    ) -> None:
        self.function = function
        self.key = reuse_key(function, code_dir)
        self.code_dir = code_dir
        self.launcher = launcher
        self.settings = settings
        self.confinement = confinement
        self.starter = starter
        self.place: Place | None = None  # its user and /tmp, from start() to stop()
        self.api = RuntimeApi()
        now = datetime.now(UTC)
        stream_id = uuid.uuid4().hex
        self.log_stream_name = f"{now:%Y/%m/%d}/[{function.version}]{stream_id}"
        self.log_path = settings.log_dir / function.name / f"{now:%Y-%m-%d}-{stream_id}.log"
        self.process: Child | None = None
        self.busy = False
        self.reusable = True
        self.last_used = time.monotonic()
        self._exited: asyncio.Task[int] | None = None
        self._log_fd = -1
        self._index: logs.LogIndex | None = None
        self._memory_timer: asyncio.TimerHandle | None = None
        self._started_at = 0.0
        self._initialised = False
        self.init_ms: float | None = None  # its start, to its first event taken
        self._max_memory_mb = 0
        self._memory_read_at = -PEAK_READ_INTERVAL
        self._out_of_memory = False  # killed by the memory watch

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self._exited is not None and not self._exited.done()

    def environment(self) -> dict[str, str]:
        function = self.function
        # Built from nothing: Lambda's variables and the function's own.
        env = base_environment()
        if self.place is not None:  # Lambda's /tmp: the sandbox's own writable directory
            env["TMPDIR"] = env["HOME"] = str(self.place.tmp)
        env.update(self.launcher.environment)
        env.update(function.environment)  # users may change the unreserved defaults above
        env.update(
            {
                "_HANDLER": function.handler,
                "AWS_REGION": self.settings.region,
                "AWS_DEFAULT_REGION": self.settings.region,
                "AWS_LAMBDA_FUNCTION_NAME": function.name,
                "AWS_LAMBDA_FUNCTION_VERSION": function.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
                "AWS_LAMBDA_RUNTIME_API": self.api.address,
                "LAMBDA_TASK_ROOT": str(self.code_dir),
                "LAMBDA_RUNTIME_DIR": str(self.launcher.runtime_dir),
            }
        )
        if self.launcher.execution_env:
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{function.runtime}"
        else:
            env.pop("AWS_EXECUTION_ENV", None)
        return env

    async def start(self) -> None:
        self.place = place = self.confinement.enter(self.code_dir)
        self.api.peer_uid = place.uid  # its Runtime API serves the sandbox's user alone
        await self.api.start()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._index = logs.LogIndex(self.log_path, self.log_stream_name)
        self._started_at = asyncio.get_running_loop().time()
        # The process writes straight into the log file (no pipe to drain, nothing buffered
        # on our side).
        self.process = await self.starter.start(
            self.launcher, place, self.code_dir, self.environment(), self._log_fd
        )
        self._exited = asyncio.create_task(self.process.wait())

    async def invoke(self, invocation: Invocation) -> Outcome:
        assert self._exited is not None and self._index is not None, "start() first"
        loop = asyncio.get_running_loop()
        function = self.function
        request_id = invocation.request_id
        start_offset = os.fstat(self._log_fd).st_size
        if start_offset > self.settings.log_retention_bytes:
            self._index.truncate(self._log_fd)  # one long-lived sandbox's own cap
            start_offset = 0
        self._index.mark(start_offset)
        self._log(f"START RequestId: {request_id} Version: {function.version}\n")
        self._memory_timer = loop.call_later(WATCH_INTERVAL, self._check_memory)

        handle = self.api.submit(
            Event(
                request_id=request_id,
                payload=invocation.payload,
                invoked_function_arn=invocation.invoked_function_arn,
                timeout=float(function.timeout),
                client_context=_decode_client_context(invocation.client_context),
                trace_id=invocation.trace_id,
            )
        )
        submitted = loop.time()
        status = ""
        init_ms: float | None = None
        # Phase 1: until the runtime takes the event. On a new sandbox this is its init; a warm
        # one waiting in /next took it inside submit(), and this returns at once.
        await _first_done((handle.taken, handle.result, self._exited), INIT_TIMEOUT)
        began = submitted
        if handle.taken.done() and not handle.taken.cancelled():
            began = handle.taken.result()
            if not self._initialised:
                init_ms = self.init_ms = (began - self._started_at) * 1000
            self._initialised = True
            self._note_memory()  # now too, in case the process is gone by the end
            # Phase 2: the function runs, within its timeout counted from the take.
            remaining = began + function.timeout - loop.time()
            await _first_done((handle.result, self._exited), max(remaining, 0))
        if self._memory_timer is not None:
            self._memory_timer.cancel()
        self._note_memory()
        ended = loop.time()
        timed_out_after = 0.0

        if handle.result.done() and not handle.result.cancelled():
            result = handle.result.result()
            payload, function_error = result.payload, function_error_of(function, result)
            if self.api.init_error is not None:
                self.reusable = False
                status = "error"
        elif self._exited.done():
            # Killed for exceeding its memory size: AWS's Runtime.OutOfMemory (same wording).
            error_type = "Runtime.OutOfMemory" if self._out_of_memory else "Runtime.ExitError"
            payload = platform_error(error_type, request_id, _exit_reason(self._exited.result()))
            function_error, status = UNHANDLED, "error"
            self.reusable = False
            self._log(
                f"RequestId: {request_id} Error: {_exit_reason(self._exited.result())}\n"
                f"{error_type}\n"
            )
        else:
            timed_out_after = function.timeout if handle.taken.done() else INIT_TIMEOUT
            message = f"Task timed out after {timed_out_after:.2f} seconds"
            payload = platform_error("Sandbox.Timedout", request_id, message)
            function_error, status = UNHANDLED, "timeout"
            self.reusable = False
            await self.kill()
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            self._log(f"{stamp} {request_id} {message}\n")
        if not self.reusable:
            self.api.abandon()

        duration_ms = (timed_out_after * 1000) if timed_out_after else (ended - began) * 1000
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms"
            f"\tBilled Duration: {max(math.ceil(duration_ms), 1)} ms"
            f"\tMemory Size: {function.memory_size} MB\tMax Memory Used: {self._max_memory_mb} MB"
        )
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if status:
            report += f"\tStatus: {status}"
        if self._out_of_memory:
            report += "\tError Type: Runtime.OutOfMemory"
        self._log(f"END RequestId: {request_id}\n{report}\n")
        self.last_used = time.monotonic()
        tail = self._read_tail(start_offset) if invocation.tail_log else b""
        return Outcome(payload, function_error, tail, duration_ms)

    async def kill(self) -> None:
        if self.process is not None and self._exited is not None and not self._exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self._exited

    async def stop(self) -> None:
        self.reusable = False
        await self.kill()
        await self.api.close()
        if self.place is not None:
            place, self.place = self.place, None
            self.confinement.leave(place)
        if self._log_fd >= 0:
            os.close(self._log_fd)
            self._log_fd = -1
        if self._index is not None:
            self._index.close()

    def flush_log_index(self) -> None:
        if self._index is not None:
            self._index.flush()

    def _log(self, text: str) -> None:
        if self._log_fd >= 0:
            os.write(self._log_fd, text.encode())

    def _read_tail(self, start_offset: int) -> bytes:
        with open(self.log_path, "rb") as log:
            end = log.seek(0, os.SEEK_END)
            log.seek(max(start_offset, end - TAIL_BYTES))
            return log.read(TAIL_BYTES)

    def _check_memory(self) -> None:
        """Enforce MemorySize while an invocation runs: kill the sandbox once the resident memory
        of its process tree exceeds it, as Lambda's cgroup limit does (no MemoryError inside).
        A timer, not a task, re-armed every WATCH_INTERVAL: the many invocations that
        end sooner cost nothing."""
        if self.process is None or not self.alive:
            return
        if tree_rss_kb(self.process.pid) > self.function.memory_size * 1024:
            self._out_of_memory = True
            self._max_memory_mb = self.function.memory_size
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            return
        loop = asyncio.get_running_loop()
        self._memory_timer = loop.call_later(WATCH_INTERVAL, self._check_memory)

    def _note_memory(self) -> None:
        # Peak resident set of the runtime process (approximate: children are not counted).
        # VmHWM only grows, so reading it at most once a second keeps the figure honest without
        # a /proc read on every invocation.
        now = time.monotonic()
        if self.process is None or now - self._memory_read_at < PEAK_READ_INTERVAL:
            return
        self._memory_read_at = now
        self._max_memory_mb = max(self._max_memory_mb, peak_rss_kb(self.process.pid) // 1024)


async def _first_done(futures: tuple[asyncio.Future[Any], ...], seconds: float) -> None:
    """Return once one of ``futures`` is done or ``seconds`` have passed: asyncio.wait's
    FIRST_COMPLETED without its sets and bookkeeping, on every invocation's path."""
    if any(future.done() for future in futures):
        return
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    for future in futures:
        future.add_done_callback(wake)
    timer = loop.call_later(seconds, wake)
    try:
        await waiter
    finally:
        timer.cancel()
        for future in futures:
            future.remove_done_callback(wake)


# -- the pool ----------------------------------------------------------------------------


class Throttled(Exception):
    """No concurrency free for the function now (docs/aws-behaviour.md §3.3): nothing ran.

    ``reason`` is TooManyRequestsException's Reason: the function's reservation is in use, or
    the account's (every sandbox is busy).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sandboxes(Protocol):
    """What the executor runs invocations on: a SandboxPool in its own process, or the same
    pool in the sandbox host (executor/host)."""

    @property
    def log_dir(self) -> Path: ...

    async def run(
        self, function: FunctionConfig, code_dir: Path, invocation: Invocation, *, wait: bool = True
    ) -> Outcome: ...

    async def flush_log_indexes(self) -> None: ...

    async def close(self) -> None: ...


class SandboxPool:
    """Runs invocations in warm sandboxes, starting and retiring them as needed."""

    def __init__(self, settings: SandboxSettings) -> None:
        self._settings = settings
        self._sandboxes: list[Sandbox] = []  # every live sandbox, busy or idle
        self._latest_key: dict[tuple[str, str], ReuseKey] = {}  # (name, version) -> newest
        self._changed = asyncio.Condition()
        self._stopping: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._closed = False
        self._admitted: dict[str, int] = {}  # function name -> invocations running or waiting
        self._keys: dict[str, tuple[FunctionConfig, Path, ReuseKey]] = {}  # see _reuse_key
        self._confinement = Confinement(settings.uids)
        self._starter = Starter(settings.start, self._confinement.tmp_root)
        self._pacer: Pacer[Sandbox] = Pacer(settings.queue_after)

    @property
    def sandboxes(self) -> list[Sandbox]:
        """The live sandboxes (for inspection and tests)."""
        return list(self._sandboxes)

    @property
    def log_dir(self) -> Path:
        """Where sandboxes keep their functions' logs (one directory per function)."""
        return self._settings.log_dir

    async def flush_log_indexes(self) -> None:
        """Write the live sandboxes' buffered index marks, before their logs are read."""
        for sandbox in self._sandboxes:
            sandbox.flush_log_index()

    async def run(
        self, function: FunctionConfig, code_dir: Path, invocation: Invocation, *, wait: bool = True
    ) -> Outcome:
        """Run one invocation, or raise Throttled when the function has no concurrency free.

        A function with reserved concurrency runs at most min(reserved, max_per_function)
        invocations at once; one more is throttled at once. Without a reservation, an
        invocation waits for a sandbox (``wait``, the async path: its event stays leased) or,
        when every sandbox of the account is busy, is throttled (the sync path).
        """
        try:
            launcher = launcher_for(function, code_dir, self._settings.python)
        except SetupError as e:
            return _failed_setup(e, invocation.request_id)
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_idle())
        self._admit(function, wait)
        try:
            return await self._run(function, code_dir, launcher, invocation, wait)
        finally:
            self._admitted[function.name] -= 1
            if not self._admitted[function.name]:
                del self._admitted[function.name]

    def _admit(self, function: FunctionConfig, wait: bool) -> None:
        running = self._admitted.get(function.name, 0)
        reserved = function.reserved_concurrent_executions
        if reserved is not None:
            if running >= min(reserved, self._settings.max_per_function):
                raise Throttled(RESERVED_CONCURRENCY_EXCEEDED)
        elif not wait and sum(s.busy for s in self._sandboxes) >= self._settings.max_total:
            raise Throttled(ACCOUNT_CONCURRENCY_EXCEEDED)
        self._admitted[function.name] = running + 1

    async def _run(
        self,
        function: FunctionConfig,
        code_dir: Path,
        launcher: Launcher,
        invocation: Invocation,
        wait: bool,
    ) -> Outcome:
        key = self._reuse_key(function, code_dir)
        self._latest_key[(function.name, function.version)] = key
        sandbox = await self._acquire(function, code_dir, launcher, key, pace=wait)
        acquired = time.monotonic()
        try:
            cold = sandbox.process is None
            if cold:
                try:
                    await sandbox.start()
                except OSError as e:
                    sandbox.reusable = False
                    reason = f"fork/exec {launcher.argv[0]}: {e.strerror or e}".lower()
                    error = SetupError("Runtime.InvalidEntrypoint", reason)
                    return _failed_setup(error, invocation.request_id)
            outcome = await sandbox.invoke(invocation)
            # How long it held the sandbox, the Runtime API's turns included: what one queued
            # behind it waits.
            held_ms = (time.monotonic() - acquired) * 1000 - (sandbox.init_ms or 0) * cold
            self._pacer.note(function.name, held_ms, sandbox.init_ms if cold else None)
            return outcome
        except BaseException:
            sandbox.reusable = False
            raise
        finally:
            await self._release(sandbox)

    def _reuse_key(self, function: FunctionConfig, code_dir: Path) -> ReuseKey:
        # The store's cache hands out the same FunctionConfig until it changes, so the key is
        # computed once per configuration object, not once per invocation.
        cached = self._keys.get(function.sandbox_key)
        if cached is not None and cached[0] is function and cached[1] == code_dir:
            return cached[2]
        if len(self._keys) > KEY_CACHE_SIZE:
            self._keys.clear()
        key = reuse_key(function, code_dir)
        self._keys[function.sandbox_key] = (function, code_dir, key)
        return key

    async def close(self) -> None:
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        sandboxes, self._sandboxes = self._sandboxes, []
        await asyncio.gather(*(sandbox.stop() for sandbox in sandboxes), *self._stopping)
        await self._starter.close()
        self._confinement.close()
        self._pacer.wake()
        async with self._changed:
            self._changed.notify_all()

    async def _acquire(
        self,
        function: FunctionConfig,
        code_dir: Path,
        launcher: Launcher,
        key: ReuseKey,
        pace: bool,
    ) -> Sandbox:
        while True:
            async with self._changed:
                found = await self._find(function, code_dir, launcher, key, pace)
            if isinstance(found, Sandbox):
                return found
            try:  # queued behind the busy sandboxes of its key (pacing.py)
                busy = sum(1 for s in self._sandboxes if s.key == key)
                patience = self._pacer.patience(function.name, key, busy)
                sandbox = await asyncio.wait_for(found, patience)
            except TimeoutError:
                pace = False  # waited as long as a start takes: start one (within the limits)
                continue
            except asyncio.CancelledError:
                handed = found.result() if found.done() and not found.cancelled() else None
                if handed is not None and self._release_now(handed):  # handed as it was cancelled
                    notify = asyncio.create_task(self._release(None))
                    self._stopping.add(notify)
                    notify.add_done_callback(self._stopping.discard)
                raise
            if sandbox is not None:
                return sandbox

    async def _find(
        self,
        function: FunctionConfig,
        code_dir: Path,
        launcher: Launcher,
        key: ReuseKey,
        pace: bool,
    ) -> Sandbox | asyncio.Future[Sandbox | None]:
        """A sandbox for the invocation, or a place in its key's queue."""
        settings = self._settings
        while True:
            if self._closed:
                raise RuntimeError("the sandbox pool is closed")
            for sandbox in reversed(self._sandboxes):  # most recently used first
                if sandbox.key == key and not sandbox.busy and sandbox.alive:
                    sandbox.busy = True
                    return sandbox
            self._retire_stale_and_dead()  # before counting who holds the slots
            if pace:
                busy = sum(1 for s in self._sandboxes if s.key == key)
                if self._pacer.should_wait(function.name, key, busy, self._running()):
                    return self._pacer.queue(key)
            same = [s for s in self._sandboxes if s.function.name == function.name]
            if len(same) >= settings.max_per_function:
                victims = same
            elif len(self._sandboxes) >= settings.max_total:
                victims = self._sandboxes
            else:
                sandbox = Sandbox(
                    function, code_dir, launcher, settings, self._confinement, self._starter
                )
                sandbox.busy = True
                self._sandboxes.append(sandbox)
                self._trim_logs(function.name)
                return sandbox
            idle = [s for s in victims if not s.busy]
            if idle:  # make room by stopping the one idle longest
                self._discard(min(idle, key=lambda s: s.last_used))
                continue
            await self._changed.wait()

    async def _release(self, sandbox: Sandbox | None) -> None:
        """Release the sandbox; with None, only tell those waiting for room to look again."""
        if sandbox is None or self._release_now(sandbox):
            async with self._changed:
                self._changed.notify_all()

    def _release_now(self, sandbox: Sandbox) -> bool:
        """Hand the sandbox to an invocation queued for it, or free it; True when it is free
        (or gone), which those waiting for room hear of."""
        current = self._latest_key.get((sandbox.function.name, sandbox.function.version))
        if not sandbox.reusable or not sandbox.alive or sandbox.key != current or self._closed:
            sandbox.busy = False
            self._discard(sandbox)
            self._pacer.wake(sandbox.key)  # one queued may now start a sandbox of its own
            return True
        self._pacer.recheck(sandbox.function.name, sandbox.key)
        if self._pacer.hand_over(sandbox.key, sandbox):
            return False  # still busy, with the next invocation
        sandbox.busy = False
        return True

    def _running(self) -> int:
        """Busy sandboxes of functions not known to be slow: what keeps the cores busy."""
        return sum(
            1 for s in self._sandboxes if s.busy and self._pacer.short(s.function.name) is not False
        )

    def _retire_stale_and_dead(self) -> None:
        for sandbox in list(self._sandboxes):
            if sandbox.busy:
                continue
            current = self._latest_key.get((sandbox.function.name, sandbox.function.version))
            if sandbox.key != current or not sandbox.alive:
                self._discard(sandbox)

    def _trim_logs(self, function_name: str) -> None:
        """Keep a function's logs within their retention, sparing live sandboxes' files."""
        live = {s.log_path for s in self._sandboxes if s.function.name == function_name}
        directory = self._settings.log_dir / function_name
        try:
            logs.trim(directory, self._settings.log_retention_bytes, keep=live)
        except OSError:
            pass  # retention is best effort; never fail an invocation over it

    def _discard(self, sandbox: Sandbox) -> None:
        """Forget the sandbox now and stop it in the background."""
        if sandbox in self._sandboxes:
            self._sandboxes.remove(sandbox)
        task = asyncio.create_task(sandbox.stop())
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _reap_idle(self) -> None:
        limit = self._settings.idle_seconds
        while True:
            await asyncio.sleep(min(max(limit / 4, 0.05), 30.0))
            reap_orphans()
            now = time.monotonic()
            expired = [s for s in self._sandboxes if not s.busy and now - s.last_used > limit]
            if expired:
                async with self._changed:
                    for sandbox in expired:
                        self._discard(sandbox)
                    self._changed.notify_all()
