"""The Lambda Runtime API (2018-06-01) served to one sandbox (docs/aws-behaviour.md §6).

One server per sandbox, on 127.0.0.1 and a port the OS picks; the runtime inside the sandbox
finds it through ``AWS_LAMBDA_RUNTIME_API``. Any local process can reach that port, so when the
sandbox runs as a user of its own (``peer_uid``), a connection is served only if that user made
it: the kernel says whose it is (isolation.tcp_owner), once per connection, before a byte is
read. A sandbox runs one invocation at a time, so the state is a single slot: the invocation
handed in (``pending``), then the one the runtime took with ``/next`` (``current``) until it
answers. A ``/next`` that finds nothing pending parks its
connection until ``submit`` hands it the event.

This is on the path of every invocation (two requests each), so the HTTP layer is a small
``asyncio.Protocol`` over httptools (llhttp, the parser behind uvicorn): keep-alive, chunked
bodies, ``Expect: 100-continue`` and pipelining, each response built from pre-built bytes and
written in one write (see ``_Connection._serve`` for the one response that waits). Hand-written
rather than an aiohttp application like the gateway's: four fixed routes need none of aiohttp's
per-request objects, middleware and router, and this path runs twice per invocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import httptools

from eventinvoke.executor.isolation import tcp_owner

PREFIX = "/2018-06-01"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

# 6 MB + 100 bytes (docs/aws-behaviour.md §1.3): the largest response a function may return.
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
    trace_id: str = ""  # Lambda-Runtime-Trace-Id (X-Ray's form), or ""


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


# -- responses, built once ------------------------------------------------------------------


def _response(status: bytes, body: bytes, headers: bytes = b"") -> bytes:
    return b"HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s" % (
        status,
        len(body),
        headers,
        body,
    )


def _error(status: bytes, error_type: str, message: str, headers: bytes = b"") -> bytes:
    body = json.dumps({"errorMessage": message, "errorType": error_type}, separators=(",", ":"))
    return _response(status, body.encode(), headers)


_ACCEPTED = _response(b"202 Accepted", b'{"status":"OK"}')
_INVALID_REQUEST_ID = _error(b"400 Bad Request", "InvalidRequestID", "Invalid request ID")
_INVALID_STATE = _error(
    b"403 Forbidden", "InvalidStateTransition", "State transition is not allowed"
)
_TOO_LARGE = _error(
    b"413 Request Entity Too Large",
    "RequestEntityTooLarge",
    f"Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes).",
)
_SHUTTING_DOWN = _error(
    b"500 Internal Server Error", "InternalServerError", "The sandbox is shutting down"
)
_NOT_FOUND = _error(b"404 Not Found", "NotFound", "Not Found")
_GET_ONLY = _error(
    b"405 Method Not Allowed", "MethodNotAllowed", "Method Not Allowed", b"Allow: GET\r\n"
)
_POST_ONLY = _error(
    b"405 Method Not Allowed", "MethodNotAllowed", "Method Not Allowed", b"Allow: POST\r\n"
)
_MALFORMED = _error(
    b"400 Bad Request", "BadRequest", "Malformed HTTP request", b"Connection: close\r\n"
)
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
MAX_QUEUED = 16  # requests parsed ahead of the one being answered before reading pauses

_NEXT_PATH = (PREFIX + "/runtime/invocation/next").encode()
_INVOCATION_PATH = (PREFIX + "/runtime/invocation/").encode()
_INIT_ERROR_PATH = (PREFIX + "/runtime/init/error").encode()
_ERROR_TYPE = ERROR_TYPE_HEADER.lower().encode()


def _header_value(text: str) -> bytes:
    # The client context is the caller's text: a line break must not end the header (pretty-
    # printed JSON stays the same JSON with spaces instead).
    return text.encode().replace(b"\r", b" ").replace(b"\n", b" ")


class RuntimeApi:
    """The HTTP server one sandbox's runtime talks to."""

    def __init__(self) -> None:
        self._pending: Handle | None = None
        self._current: Handle | None = None
        self._waiters: deque[_Connection] = deque()  # connections parked in /next
        self._connections: set[_Connection] = set()
        self._taken_any = False  # whether the runtime ever called /next
        self._init_error: bytes | None = None
        self._closed = False
        self._server: asyncio.AbstractServer | None = None
        self.address = ""  # "127.0.0.1:<port>" once started
        self.peer_uid: int | None = None  # the only user served; None: anyone

    @property
    def init_error(self) -> bytes | None:
        """The body the runtime posted to ``/init/error``, if it did."""
        return self._init_error

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = f"{host}:{port}"
        return self.address

    async def close(self) -> None:
        self._closed = True
        for handle in (self._pending, self._current):
            if handle is not None:
                handle.taken.cancel()
                handle.result.cancel()
        while self._waiters:
            self._waiters.popleft().answer_next(_SHUTTING_DOWN)
        for connection in list(self._connections):
            connection.close()
        if self._server is not None:
            self._server.close()
            # Bounded: a runtime that stopped reading must not hold up closing (from Python
            # 3.12 this waits for every connection to be gone).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 0.5)
            self._server = None

    def submit(self, event: Event) -> Handle:
        """Hand an invocation to the runtime; at most one at a time."""
        if self._pending is not None or self._current is not None:
            raise RuntimeError("the sandbox already has an invocation in flight")
        loop = asyncio.get_running_loop()
        handle = Handle(event, loop.create_future(), loop.create_future())
        if self._init_error is not None:
            # Init already failed: this is "the next one" of docs/aws-behaviour.md §6.4.
            handle.result.set_result(Result(self._init_error, error=True))
            return handle
        self._pending = handle
        if self._waiters:
            self._waiters.popleft().answer_next(self._take())
        return handle

    def abandon(self) -> None:
        """Forget the invocation in flight (it timed out or the process died)."""
        self._pending = None
        self._current = None

    # -- endpoints: each returns the whole HTTP response -------------------------------------

    def _next(self, connection: _Connection) -> bytes | None:
        """The event for ``/next``, or None when the connection must wait for one."""
        if self._closed:
            return _SHUTTING_DOWN
        if self._pending is None:
            self._waiters.append(connection)
            return None
        return self._take()

    def _take(self) -> bytes:
        handle, self._pending = self._pending, None
        assert handle is not None
        self._current = handle
        self._taken_any = True
        event = handle.event
        handle.deadline_ms = int(time.time() * 1000 + event.timeout * 1000)
        if not handle.taken.done():
            handle.taken.set_result(handle.taken.get_loop().time())
        parts = [
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Lambda-Runtime-Deadline-Ms: %d\r\n" % (len(event.payload), handle.deadline_ms)
        ]
        for name, value in (
            (b"Lambda-Runtime-Aws-Request-Id", event.request_id),
            (b"Lambda-Runtime-Invoked-Function-Arn", event.invoked_function_arn),
            (b"Lambda-Runtime-Client-Context", event.client_context),
            (b"Lambda-Runtime-Trace-Id", event.trace_id),
        ):
            if value:  # empty headers are left out
                parts.append(b"%s: %s\r\n" % (name, _header_value(value)))
        parts += (b"\r\n", event.payload)
        return b"".join(parts)

    def _answer(self, request_id: str, body: bytes | None, error_type: str | None) -> bytes:
        """``/response`` (error_type None) or ``/error``; body None when it was too large."""
        # The error-type header is free text; the invoker sees "Unhandled" whatever it says,
        # except "Handled" from a Node.js <= 12 runtime (see sandbox.HANDLED).
        if not self._taken_any:
            return _INVALID_STATE
        handle = self._current
        if handle is None or handle.answered or handle.event.request_id != request_id:
            return _INVALID_REQUEST_ID
        handle.answered = True
        self._current = None
        if body is None:
            _settle(handle, Result(RESPONSE_TOO_LARGE, error=True))
            return _TOO_LARGE
        if error_type is None:
            _settle(handle, Result(body, error=False))
        else:
            _settle(handle, Result(body, error=True, error_type=error_type))
        return _ACCEPTED

    def _init_error_posted(self, body: bytes | None) -> bytes:
        if body is None:
            body = RESPONSE_TOO_LARGE
        self._init_error = body
        for handle in (self._current, self._pending):
            if handle is not None:
                handle.answered = True
                _settle(handle, Result(body, error=True))
        self._current = self._pending = None
        return _ACCEPTED


def _settle(handle: Handle, result: Result) -> None:
    if not handle.result.done():
        handle.result.set_result(result)


class _Request(NamedTuple):
    method: bytes
    url: bytes
    body: bytes | None  # None: over MAX_RESPONSE_BYTES (read to the end and dropped)
    error_type: str
    keep_alive: bool


# Stands in the queue for a request we cannot parse: answered 400 in its turn, then closed.
_BAD_REQUEST = _Request(b"", b"", b"", "", False)


class _Connection(asyncio.Protocol):
    """One runtime connection. Requests are parsed as bytes arrive and answered in order; a
    ``/next`` waiting for an event holds back the ones behind it."""

    def __init__(self, api: RuntimeApi) -> None:
        self._api = api
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport  # set by connection_made
        self._queue: deque[_Request] = deque()
        self._parked: _Request | None = None  # the /next waiting for an event
        self._out: list[bytes] = []  # responses not yet written (see _serve)
        self._urgent = False  # whether _out holds more than answers' 202s
        self._closing = False
        self._malformed = False  # stop parsing: everything after is unusable
        # The request being parsed.
        self._url = b""
        self._error_type = ""
        self._body: list[bytes] = []
        self._size = 0
        self._keep_alive = True
        self._has_body = False
        self._expect = False
        self._continue = False  # a 100 Continue owed, sent once earlier requests are answered

    # -- asyncio ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        uid = self._api.peer_uid
        if uid is not None:
            # The client's end is bound to our peer's address and connected to ours.
            peer, ours = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
            if tcp_owner(peer, ours) != uid:
                self._closing = self._malformed = True  # not a byte read, not one answered
                self._transport.abort()
                return
        self._api._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._gone()
        self._api._connections.discard(self)

    def eof_received(self) -> None:
        # The runtime hung up: a parked /next must not be handed the next event. Returning
        # None closes the transport.
        self._gone()

    def data_received(self, data: bytes) -> None:
        if not (self._malformed or self._closing):
            self._parse(data)
        self._serve()

    def _parse(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # A server may ignore Upgrade (e.g. curl --http2's h2c): the request is answered
            # as plain HTTP/1.1 and the bytes after it are the next request.
            if not self._malformed:
                self._parse(data[upgrade.args[0] :])
        except httptools.HttpParserError:
            self._malformed = True
            self._queue.append(_BAD_REQUEST)

    def close(self) -> None:
        self._closing = True
        self._transport.close()

    def _gone(self) -> None:
        self._closing = True
        if self._parked is not None:
            self._parked = None
            with contextlib.suppress(ValueError):
                self._api._waiters.remove(self)

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._url = b""
        self._error_type = ""
        self._body = []
        self._size = 0
        self._has_body = self._expect = False

    def on_url(self, url: bytes) -> None:
        self._url += url  # may arrive in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == _ERROR_TYPE:
            if not self._error_type:  # the first one counts
                self._error_type = value.decode(errors="replace")
        elif name == b"expect":
            self._expect = value.lower() == b"100-continue"
        elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            self._has_body = True

    def on_headers_complete(self) -> None:
        http11 = self._parser.get_http_version() == "1.1"
        self._keep_alive = http11 and self._parser.should_keep_alive()
        # llhttp would skip the body of an Upgrade request; one we cannot answer as plain HTTP.
        if self._parser.should_upgrade() and self._has_body:
            self._malformed = True
        # Without the 100, curl waits a second before sending a body over 1 KiB.
        self._continue = self._expect and http11 and not self._malformed

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size <= MAX_RESPONSE_BYTES:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._malformed:
            self._queue.append(_BAD_REQUEST)
            return
        body = None if self._size > MAX_RESPONSE_BYTES else b"".join(self._body)
        method = self._parser.get_method()
        self._queue.append(_Request(method, self._url, body, self._error_type, self._keep_alive))
        self._continue = False

    # -- answering ---------------------------------------------------------------------------

    def answer_next(self, response: bytes) -> None:
        """Answer the parked /next (with the event, or that the sandbox is closing)."""
        request, self._parked = self._parked, None
        assert request is not None
        self._reply(request, response)
        self._serve()

    def _serve(self) -> None:
        """Answer the queued requests in order, until one has to wait for an event.

        Responses go out in one write once nothing is left to answer. The 202 to an answer
        followed by a parked /next waits for the event and leaves with it: a runtime that
        pipelines its answer and its next /next (ours does) then wakes once per invocation, not
        twice. Anything else (an event above all) is written at once.
        """
        while self._queue and self._parked is None and not self._closing:
            self._handle(self._queue.popleft())
        if self._closing:
            return
        if self._out and (self._parked is None or self._urgent):
            self._transport.write(b"".join(self._out))
            self._out.clear()
            self._urgent = False
        if len(self._queue) > MAX_QUEUED:
            # A client pipelining far ahead of a parked /next: leave its bytes in the socket.
            # (Below the bound reading goes on, so a hang-up is still seen: see _gone.)
            self._transport.pause_reading()
            return
        self._transport.resume_reading()
        if self._continue and self._parked is None:
            self._continue = False
            self._transport.write(_CONTINUE)

    def _handle(self, request: _Request) -> None:
        if request is _BAD_REQUEST:
            self._reply(request, _MALFORMED)
            return
        api, method = self._api, request.method
        path = request.url.partition(b"?")[0]
        if path == _NEXT_PATH:
            if method != b"GET":
                self._reply(request, _GET_ONLY)
            elif (response := api._next(self)) is None:
                self._parked = request
            else:
                self._reply(request, response)
        elif path == _INIT_ERROR_PATH:
            if method != b"POST":
                self._reply(request, _POST_ONLY)
            else:
                self._reply(request, api._init_error_posted(request.body))
        elif path.startswith(_INVOCATION_PATH):
            request_id, _, kind = path[len(_INVOCATION_PATH) :].partition(b"/")
            if not request_id or kind not in (b"response", b"error"):
                self._reply(request, _NOT_FOUND)
            elif method != b"POST":
                self._reply(request, _POST_ONLY)
            else:
                error_type = request.error_type if kind == b"error" else None
                response = api._answer(
                    request_id.decode(errors="replace"), request.body, error_type
                )
                self._reply(request, response)
        else:
            self._reply(request, _NOT_FOUND)

    def _reply(self, request: _Request, response: bytes) -> None:
        if request.method == b"HEAD":
            response = response[: response.index(b"\r\n\r\n") + 4]
        self._out.append(response)
        self._urgent = self._urgent or response is not _ACCEPTED
        if not request.keep_alive:
            self._transport.write(b"".join(self._out))
            self._out.clear()
            self.close()
