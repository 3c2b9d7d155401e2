"""The Lambda Runtime API (2018-06-01) served to one sandbox (spec §6).

One server per sandbox, on 127.0.0.1 and a port the OS picks; the runtime inside the sandbox
finds it through ``AWS_LAMBDA_RUNTIME_API``. A sandbox runs one invocation at a time, so the
state is a single slot: the invocation handed in (``pending``), then the one the runtime took
with ``/next`` (``current``) until it answers.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from aiohttp import web

PREFIX = "/2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# 6 MB + 100 bytes (spec §1.3): the largest response a function may return.
MAX_RESPONSE_BYTES = 6291556

RESPONSE_TOO_LARGE = json.dumps(
    {
        "errorMessage": "Response payload size exceeded maximum allowed payload size "
        f"({MAX_RESPONSE_BYTES} bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    },
    separators=(",", ":"),
).encode()


@dataclass(frozen=True)
class Event:
    """One invocation as the runtime receives it from ``/next``."""

    request_id: str
    payload: bytes
    invoked_function_arn: str
    timeout: float  # seconds; the deadline is counted from when the runtime takes the event
    client_context: str = ""  # JSON text (already decoded from base64), or ""


@dataclass(frozen=True)
class Result:
    """What the runtime answered: the response body, or an error object (any bytes)."""

    payload: bytes
    error: bool
    # The Lambda-Runtime-Function-Error-Type header sent with an error: free text, passed on
    # so the sandbox can honour "Handled" from the runtimes that used it (sandbox.HANDLED).
    error_type: str = ""


@dataclass
class Handle:
    """An invocation handed to the runtime. ``taken`` resolves (to ``loop.time()``) when the
    runtime takes it with ``/next``; ``result`` resolves when the runtime answers."""

    event: Event
    taken: asyncio.Future[float]
    result: asyncio.Future[Result]
    deadline_ms: int = 0
    answered: bool = field(default=False)


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}, separators=(",", ":"))
    return web.Response(status=status, text=body, content_type="application/json")


def _invalid_request_id() -> web.Response:
    return _error(400, "InvalidRequestID", "Invalid request ID")


def _invalid_state() -> web.Response:
    return _error(403, "InvalidStateTransition", "State transition is not allowed")


_ACCEPTED = '{"status":"OK"}'


class RuntimeApi:
    """The HTTP server one sandbox's runtime talks to."""

    def __init__(self) -> None:
        self._pending: Handle | None = None
        self._current: Handle | None = None
        self._available = asyncio.Event()  # set when ``_pending`` is filled (or on close)
        self._taken_any = False  # whether the runtime ever called /next
        self._init_error: bytes | None = None
        self._closed = False
        self._runner: web.AppRunner | None = None
        self.address = ""  # "127.0.0.1:<port>" once started

    @property
    def init_error(self) -> bytes | None:
        """The body the runtime posted to ``/init/error``, if it did."""
        return self._init_error

    async def start(self) -> str:
        # client_max_size only bounds request.read(); bodies are streamed with our own limit,
        # but keep it large enough that nothing in aiohttp rejects a legal response first.
        app = web.Application(client_max_size=MAX_RESPONSE_BYTES + 1)
        app.router.add_get(PREFIX + "/runtime/invocation/next", self._next)
        app.router.add_post(PREFIX + "/runtime/invocation/{request_id}/response", self._response)
        app.router.add_post(PREFIX + "/runtime/invocation/{request_id}/error", self._error)
        app.router.add_post(PREFIX + "/runtime/init/error", self._init_error_handler)
        # A short shutdown timeout: a runtime parked in /next must not hold up closing.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.address = f"{host}:{port}"
        return self.address

    async def close(self) -> None:
        self._closed = True
        self._available.set()
        for handle in (self._pending, self._current):
            if handle is not None:
                handle.taken.cancel()
                handle.result.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def submit(self, event: Event) -> Handle:
        """Hand an invocation to the runtime; at most one at a time."""
        if self._pending is not None or self._current is not None:
            raise RuntimeError("the sandbox already has an invocation in flight")
        loop = asyncio.get_running_loop()
        handle = Handle(event, loop.create_future(), loop.create_future())
        if self._init_error is not None:
            # Init already failed: this is "the next invocation" of spec §6.4.
            handle.result.set_result(Result(self._init_error, error=True))
            return handle
        self._pending = handle
        self._available.set()
        return handle

    def abandon(self) -> None:
        """Forget the invocation in flight (it timed out or the process died)."""
        self._pending = None
        self._current = None

    # -- endpoints -----------------------------------------------------------------------

    async def _next(self, request: web.Request) -> web.StreamResponse:
        while self._pending is None and not self._closed:
            self._available.clear()
            await self._available.wait()
        if self._closed or self._pending is None:
            return _error(500, "InternalServerError", "The sandbox is shutting down")
        handle, self._pending = self._pending, None
        self._current = handle
        self._taken_any = True
        event = handle.event
        handle.deadline_ms = int(time.time() * 1000 + event.timeout * 1000)
        if not handle.taken.done():
            handle.taken.set_result(asyncio.get_running_loop().time())
        headers = {
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(handle.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": event.invoked_function_arn,
            "Lambda-Runtime-Client-Context": event.client_context,
        }
        headers = {name: value for name, value in headers.items() if value}
        return web.Response(body=event.payload, headers=headers, content_type="application/json")

    async def _response(self, request: web.Request) -> web.StreamResponse:
        return await self._answer(request, error=False)

    async def _error(self, request: web.Request) -> web.StreamResponse:
        # The error-type header is free text; the invoker sees "Unhandled" whatever it says,
        # except "Handled" from a Node.js <= 12 runtime (see sandbox.HANDLED).
        return await self._answer(request, error=True)

    async def _answer(self, request: web.Request, *, error: bool) -> web.StreamResponse:
        if not self._taken_any:
            return _invalid_state()
        handle = self._current
        if (
            handle is None
            or handle.answered
            or handle.event.request_id != request.match_info["request_id"]
        ):
            return _invalid_request_id()
        handle.answered = True  # a second POST racing this one gets 400
        body = await _read_limited(request)
        if self._current is not handle:  # timed out while the body was arriving
            return _invalid_request_id()
        self._current = None
        if body is None:
            _settle(handle, Result(RESPONSE_TOO_LARGE, error=True))
            return _error(
                413,
                "RequestEntityTooLarge",
                f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
            )
        error_type = request.headers.get(ERROR_TYPE_HEADER, "") if error else ""
        _settle(handle, Result(body, error=error, error_type=error_type))
        return web.Response(status=202, text=_ACCEPTED, content_type="application/json")

    async def _init_error_handler(self, request: web.Request) -> web.StreamResponse:
        body = await _read_limited(request)
        if body is None:
            body = RESPONSE_TOO_LARGE
        self._init_error = body
        for handle in (self._current, self._pending):
            if handle is not None:
                handle.answered = True
                _settle(handle, Result(body, error=True))
        self._current = self._pending = None
        return web.Response(status=202, text=_ACCEPTED, content_type="application/json")


def _settle(handle: Handle, result: Result) -> None:
    if not handle.result.done():
        handle.result.set_result(result)


async def _read_limited(request: web.Request) -> bytes | None:
    """The request body, or None when it exceeds MAX_RESPONSE_BYTES.

    An oversized body is still read to the end (and dropped) so the runtime, which sends the
    whole body before reading the reply, gets its 413 instead of a broken pipe.
    """
    chunks: list[bytes] = []
    size = 0
    too_large = (request.content_length or 0) > MAX_RESPONSE_BYTES
    async for chunk in request.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            too_large = True
        if not too_large:
            chunks.append(chunk)
    return None if too_large else b"".join(chunks)
