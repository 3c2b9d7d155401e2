"""The executor <-> sandbox host link: lists of message tuples, pickled, one length-prefixed
frame per event-loop turn.

Both ends are this package at the same version, over a socketpair the executor made for its own
child, so pickle is safe here and is the cheapest encoding of tuples of str and bytes. Batching
per loop turn means many invocations share one write and one wake-up of the other side.

Hand-written rather than ``multiprocessing.connection``: its ``Connection`` reads and writes
block (no asyncio), and it frames each message on its own, where a frame here carries a loop
turn's messages, built once per turn on every invocation's path.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from eventinvoke.executor.sandbox import SandboxSettings

log = structlog.get_logger("eventinvoke.executor")

HEADER = struct.Struct("!I")

# Executor -> host.
CONFIG = "config"  # (CONFIG, ref, FunctionConfig, code_dir): the function a ref stands for
FORGET = "forget"  # (FORGET, ref): no later RUN names it
# (RUN, call, ref, request_id, payload, arn, client_context, tail_log, trace_id, wait)
RUN = "run"
FLUSH = "flush"  # (FLUSH, call): write the log indexes' buffered marks
CANCEL = "cancel"  # (CANCEL, call): its caller is gone; abandon the invocation, no answer
PING = "ping"  # (PING, call): answered with PONG at once, to show the host's loop turns
# Host -> executor.
READY = "ready"  # (READY, 0): the host is serving
OUTCOME = "outcome"  # (OUTCOME, call, payload, function_error, log_tail, duration_ms)
THROTTLED = "throttled"  # (THROTTLED, call, reason)
FAILED = "failed"  # (FAILED, call, message): a system error, not the function's
FLUSHED = "flushed"  # (FLUSHED, call)
PONG = "pong"  # (PONG, call)

Message = tuple[Any, ...]


# The host's settings travel on its command line.
def settings_to_json(settings: SandboxSettings) -> str:
    values: dict[str, Any] = dict(settings.__dict__)
    values["log_dir"] = str(settings.log_dir)
    return json.dumps(values)


def settings_from_json(text: str) -> SandboxSettings:
    values = json.loads(text)
    values["log_dir"] = Path(values["log_dir"])
    if values["uids"] is not None:
        values["uids"] = tuple(values["uids"])
    return SandboxSettings(**values)


class Link(asyncio.Protocol):
    """One end of the link: ``send`` queues a message for this loop turn's frame; each message
    received is handed to ``on_message``, and ``on_lost`` is called once when the peer goes."""

    def __init__(
        self,
        on_message: Callable[[Message], None],
        on_lost: Callable[[Exception | None], None],
    ) -> None:
        self._on_message = on_message
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._outbox: list[Message] = []
        self._buffer = bytearray()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def send(self, message: Message) -> None:
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.append(message)

    def close(self) -> None:
        self._flush()
        if self._transport is not None:
            self._transport.close()

    def _flush(self) -> None:
        messages, self._outbox = self._outbox, []
        if not messages or self.closed or self._transport is None:
            return
        data = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
        self._transport.write(HEADER.pack(len(data)) + data)

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            self._buffer += data
            view: bytes | bytearray = self._buffer
        else:
            view = data  # the common case: whole frames in one read, not added to the buffer
        offset = 0
        while len(view) - offset >= HEADER.size:
            (size,) = HEADER.unpack_from(view, offset)
            end = offset + HEADER.size + size
            if end > len(view):
                break
            messages = pickle.loads(bytes(view[offset + HEADER.size : end]))
            offset = end
            for message in messages:
                try:
                    self._on_message(message)
                except Exception:  # a bug; the stream itself is intact, so go on
                    log.exception("sandbox_host_bad_message", kind=message[0])
        if view is self._buffer:
            del self._buffer[:offset]
        else:
            self._buffer += data[offset:]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._outbox.clear()
        self._on_lost(exc)
