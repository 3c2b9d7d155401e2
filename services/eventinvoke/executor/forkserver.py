"""Python sandboxes forked from a template process (a fork server) rather than exec'd.

A template is the Python runtime's bootstrap started exactly as a sandbox would be (the same
interpreter and argv), by the sandbox pool, with an environment built from nothing (the
sandbox's base variables, none of the server's), before any function's code or variables are
in it. It forks each new sandbox, which then sets up what ``start_process`` gives an exec'd one
(its descriptors, directory, session, user, umask, environment, /proc/self/environ) and goes on
to import the handler: its start skips the interpreter's start-up and the runtime's imports,
and the pages holding them stay shared with the template until written.

A sandbox is forked only when nothing the interpreter reads as it starts differs between its
environment and the template's (``startup_environment``): a function that sets PYTHONPATH,
LANG or TZ, say, is exec'd as before. Other runtimes are always exec'd, and so is every sandbox
under ``sandbox_start = "exec"``, or while a template cannot be had (one that fails to start is
not tried again for ``RETRY_SECONDS``). What a forked sandbox shows that an exec'd one does not
is in SECURITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import structlog

from eventinvoke.executor import isolation
from eventinvoke.executor.isolation import Child, Place, base_environment, start_process
from eventinvoke.executor.launchers import Launcher

log = structlog.get_logger("eventinvoke.executor")

FORK = "fork"
EXEC = "exec"
FORK_SERVER = "_EVENTINVOKE_FORK_SERVER"  # bootstrap.py's name for the control socket
START_TIMEOUT = 10.0  # seconds a template has to say it is ready
REPLY_TIMEOUT = 10.0  # seconds a template has to fork a sandbox
RETRY_SECONDS = 60.0  # after a template failed, sandboxes are exec'd this long

# What the interpreter reads from its environment as it starts (its options, the locale, the
# time zone, the dynamic loader and allocator): a sandbox whose values differ is exec'd.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "MALLOC_")
_STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "TZ", "GLIBC_TUNABLES"})


def startup_environment(env: dict[str, str]) -> dict[str, str]:
    return {
        name: value
        for name, value in env.items()
        if name in _STARTUP_NAMES or name.startswith(_STARTUP_PREFIXES)
    }


def template_environment(home: Path) -> dict[str, str]:
    # HOME only steers site's user directory at start-up: an empty directory, as each
    # sandbox's own HOME is when it starts.
    return {**base_environment(), "HOME": str(home)}


class TemplateError(OSError):
    """The template could not fork: the sandbox is exec'd instead."""


class Template:
    """One template process and its control socket (SOCK_SEQPACKET: a message per request)."""

    def __init__(self, argv: list[str], home: Path) -> None:
        self.argv = argv
        self.environment = template_environment(home)
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: socket.socket | None = None
        self._lock = asyncio.Lock()  # one request at a time: each reply answers the last one

    @property
    def alive(self) -> bool:
        return self._socket is not None

    async def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = _start_template(
                self.argv, {**self.environment, FORK_SERVER: str(theirs.fileno())}, theirs.fileno()
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        isolation.adopt(self._process.pid)
        ours.setblocking(False)
        self._socket = ours
        try:
            ready, _, pid = (await asyncio.wait_for(self._receive(), START_TIMEOUT)).partition(b" ")
            if ready != b"ready":
                raise TemplateError(f"it said {ready!r}")
            self.pid = int(pid)
        except (OSError, TimeoutError, ValueError) as e:
            await self.close()
            raise TemplateError(f"the fork server did not start: {e}") from None

    async def spawn(self, place: Place, cwd: Path, env: dict[str, str], log_fd: int) -> Child:
        """Fork a sandbox (TemplateError if the template cannot; OSError, as from exec, if
        the sandbox could not be set up)."""
        request = {
            "env": env,
            "cwd": str(cwd),
            "uid": place.uid,
            "gid": place.gid,
            "umask": 0o077 if place.uid is not None else -1,
        }
        async with self._lock:
            if self._socket is None:
                raise TemplateError("the fork server is closed")
            with isolation.adopting():
                try:
                    socket.send_fds(self._socket, [json.dumps(request).encode()], [log_fd])
                    reply = json.loads(await asyncio.wait_for(self._receive(), REPLY_TIMEOUT))
                    pid = int(reply["pid"]) if reply.get("pid") else None
                except (OSError, TimeoutError, ValueError) as e:
                    self._abandon()
                    raise TemplateError(f"the fork server failed: {e}") from None
                except BaseException:  # cancelled: its reply would answer the next request
                    self._abandon()
                    raise
                if pid is None:
                    raise TemplateError(reply["error"][1])
                if reply["error"] is not None:  # the sandbox exits at once: reap it here
                    _reap(pid)
                    number, message = reply["error"]
                    raise OSError(number, message)
                return Child(pid, lambda: _reap(pid))

    async def _receive(self) -> bytes:
        assert self._socket is not None
        message = await asyncio.get_running_loop().sock_recv(self._socket, 1 << 16)
        if not message:
            raise TemplateError("the fork server exited")
        return message

    def _abandon(self) -> None:
        """Close the socket and kill the template (it holds nothing to save); reaped by
        ``close``."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()

    async def close(self) -> None:
        self._abandon()
        process, self._process = self._process, None
        if process is not None:
            await asyncio.to_thread(process.wait)
            isolation.forgo(process.pid)


def _start_template(argv: list[str], env: dict[str, str], fd: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv,
        cwd="/",
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        pass_fds=(fd,),
        start_new_session=True,
    )


def _reap(pid: int) -> int:
    """The exit status of an adopted sandbox that has exited (or is about to)."""
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return -9  # reaped already: not ours to report


class Starter:
    """Starts sandboxes' processes: forked from their interpreter's template when it can,
    else exec'd (``start_process``)."""

    def __init__(self, mode: str, home: Path) -> None:
        if mode not in (FORK, EXEC):
            raise ValueError(f"sandbox_start {mode!r}: give {FORK} or {EXEC}")
        self._mode = mode
        self._home = home
        self._startup = startup_environment(template_environment(home))
        self._templates: dict[tuple[str, ...], Template] = {}  # by argv
        self._failed_at: dict[tuple[str, ...], float] = {}
        self._starting: dict[tuple[str, ...], asyncio.Lock] = {}

    @property
    def templates(self) -> list[Template]:
        return list(self._templates.values())

    async def start(
        self, launcher: Launcher, place: Place, cwd: Path, env: dict[str, str], log_fd: int
    ) -> Child:
        if self._mode == FORK and launcher.forkable and startup_environment(env) == self._startup:
            template = await self._template(launcher.argv)
            if template is not None:
                try:
                    return await template.spawn(place, cwd, env, log_fd)
                except TemplateError as e:  # this one is exec'd; the next gets a new template
                    log.warning("fork_server_lost", argv=launcher.argv, error=str(e))
        return start_process(launcher.argv, place, cwd, env, log_fd)

    async def _template(self, argv: list[str]) -> Template | None:
        key = tuple(argv)
        template = self._templates.get(key)
        if template is not None and template.alive:
            return template
        if time.monotonic() - self._failed_at.get(key, -RETRY_SECONDS) < RETRY_SECONDS:
            return None
        async with self._starting.setdefault(key, asyncio.Lock()):
            template = self._templates.get(key)
            if template is not None and template.alive:
                return template
            if template is not None:
                await template.close()
            template = Template(argv, self._home)
            try:
                await template.start()
            except OSError as e:
                self._failed(argv, e)
                return None
            self._templates[key] = template
            return template

    def _failed(self, argv: list[str], error: OSError) -> None:
        log.warning("fork_server_unavailable", argv=argv, error=str(error), exec_for=RETRY_SECONDS)
        self._failed_at[tuple(argv)] = time.monotonic()

    async def close(self) -> None:
        templates, self._templates = self._templates, {}
        await asyncio.gather(*(template.close() for template in templates.values()))
