"""The sandbox host: a child process of the executor that owns its sandboxes.

It runs a SandboxPool on its own event loop, so the Runtime API servers, the sandboxes' log
writes and their memory watch use the second core instead of the loop that serves gRPC and
settles events. It reads run requests from the socket its executor handed it and answers each
with the invocation's outcome. When that socket closes (the executor stopped or died), it stops
every sandbox and exits.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import structlog

from eventinvoke.core.model import FunctionConfig
from eventinvoke.executor.host import frames
from eventinvoke.executor.sandbox import Invocation, SandboxPool, SandboxSettings, Throttled

log = structlog.get_logger("eventinvoke.sandbox_host")


class Host:
    """Serves one executor over ``link`` until it goes."""

    def __init__(self, pool: SandboxPool) -> None:
        self.pool = pool
        self.link = frames.Link(self._received, self._lost)
        self._functions: dict[int, tuple[FunctionConfig, Path]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._invocations: dict[int, asyncio.Task[None]] = {}  # by call, for CANCEL
        self._gone = asyncio.get_running_loop().create_future()

    async def serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: self.link, sock=sock)
        self.link.send((frames.READY, 0))
        await self._gone
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        await self.pool.close()

    def _received(self, message: frames.Message) -> None:
        kind = message[0]
        if kind == frames.RUN:
            call = message[1]
            known = self._functions.get(message[2])  # now: a FORGET may follow in this frame
            if known is None:
                self.link.send((frames.FAILED, call, f"unknown function reference {message[2]}"))
                return
            task = self._start(self._run(*known, message))
            self._invocations[call] = task
            task.add_done_callback(lambda _: self._invocations.pop(call, None))
        elif kind == frames.CANCEL:
            cancelled = self._invocations.get(message[1])
            if cancelled is not None:
                cancelled.cancel()
        elif kind == frames.CONFIG:
            self._functions[message[1]] = (message[2], Path(message[3]))
        elif kind == frames.FORGET:
            self._functions.pop(message[1], None)
        elif kind == frames.FLUSH:
            self._start(self._flush(message[1]))
        elif kind == frames.PING:
            self.link.send((frames.PONG, message[1]))
        else:
            log.error("sandbox_host_unknown_message", kind=kind)

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def _flush(self, call: int) -> None:
        await self.pool.flush_log_indexes()
        self.link.send((frames.FLUSHED, call))

    async def _run(self, function: FunctionConfig, code_dir: Path, message: frames.Message) -> None:
        _, call, _, request_id, payload, arn, client_context, tail_log, trace_id, wait = message
        try:
            outcome = await self.pool.run(
                function,
                code_dir,
                Invocation(request_id, payload, arn, client_context, tail_log, trace_id),
                wait=wait,
            )
        except Throttled as throttled:
            self.link.send((frames.THROTTLED, call, throttled.reason))
        except Exception as e:
            log.exception("sandbox_host_error", request_id=request_id)
            self.link.send((frames.FAILED, call, f"{type(e).__name__}: {e}"))
        else:
            self.link.send(
                (
                    frames.OUTCOME,
                    call,
                    outcome.payload,
                    outcome.function_error,
                    outcome.log_tail,
                    outcome.duration_ms,
                )
            )

    def _lost(self, exc: Exception | None) -> None:
        if not self._gone.done():
            self._gone.set_result(None)


async def serve(fd: int, settings: SandboxSettings) -> None:
    sock = socket.socket(fileno=fd)
    # Inherited, it is inheritable: sandboxes must not hold it, or the executor would not see
    # this process die until they did.
    sock.set_inheritable(False)
    host = Host(SandboxPool(settings))
    await host.serve(sock)
