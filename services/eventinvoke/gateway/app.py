"""The Lambda REST API over HTTP, served by the Invoker's gRPC API.

``aws lambda ... --endpoint-url`` and boto3 work unchanged against it. Every route, and every
request's and answer's form, comes from the model (``rest.py``); each request is one
operation: its members parsed, checked against the model's constraints as AWS checks them,
passed to ``AsyncClient.call``, the answer rendered. Errors leave through
``errors.error_response`` only.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from eventinvoke.api import codec
from eventinvoke.api.constraints import plugin_destination, problems, validation_message
from eventinvoke.api.operations import BY_NAME
from eventinvoke.client import (
    AsyncClient,
    EndpointConnectionError,
    ParamValidationError,
    ServiceError,
)
from eventinvoke.core.auth import SignedRequest, Verifier, denied, permits
from eventinvoke.core.errors import LambdaError
from eventinvoke.gateway import quirks, rest
from eventinvoke.gateway.errors import error_response, gateway_error

log = structlog.get_logger("eventinvoke.gateway")

CLIENT = web.AppKey("client", AsyncClient)
# None: no credentials are configured, and every caller is accepted.
VERIFIER: web.AppKey[Verifier | None] = web.AppKey("verifier")
# A request body larger than this is refused before it is read. It leaves room for a 50 MB
# deployment package, base64-encoded in CreateFunction's JSON; Invoke's own limits (6 MB sync,
# 1 MB async) are the Invoker's to enforce, with AWS's message.
MAX_BODY_BYTES = 70 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve(
    operation: str, client: AsyncClient, request: rest.HttpRequest
) -> rest.HttpResponse:
    """One request of ``operation``, from its HTTP form to its HTTP answer."""
    params = rest.parse(operation, request)
    special = quirks.HANDLERS.get(operation)
    if special is not None:
        return await special(client, params)
    for check in quirks.CHECKS.get(operation, ()):
        await check(client, params)
    found = problems(operation, params, allow=plugin_destination)
    if found:
        raise gateway_error("ValidationException", validation_message(found))
    result = await client.call(operation, _carried(operation, params))
    return rest.render(operation, result)


def _carried(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The members eventinvoke's API carries; the model's others (Tags, Architectures, ...) are
    accepted and ignored, as before they were modelled."""
    carried = {member for member, _ in codec.request_slots(BY_NAME[operation])}
    return {name: value for name, value in params.items() if name in carried}


def _handler(operation: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        verifier = request.app[VERIFIER]
        if verifier is not None:
            _authorize(verifier, request, body, operation)
        answer = await serve(
            operation,
            request.app[CLIENT],
            rest.HttpRequest(
                request.method, request.match_info, request.query, request.headers, body
            ),
        )
        return web.Response(status=answer.status, headers=answer.headers, body=answer.body)

    handle.operation = operation  # type: ignore[attr-defined]
    return handle


def _authorize(verifier: Verifier, request: web.Request, body: bytes, operation: str) -> None:
    """The caller's signature, and their role's permission for ``operation`` (AWS's 403s)."""
    url = request.rel_url
    caller = verifier.verify(
        SignedRequest(request.method, url.raw_path, url.raw_query_string, request.headers, body)
    )
    needed = BY_NAME[operation].role
    if not permits(caller.role, needed):
        raise denied(caller, operation, needed)


async def health(request: web.Request) -> web.Response:
    """GET /health: the gateway is up (it does not probe the Invoker)."""
    return web.json_response({"status": "SERVING"})


health.operation = "Health"  # type: ignore[attr-defined]


@web.middleware
async def _errors_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes AWS's error response; one log line per request; a request id always."""
    structlog.contextvars.clear_contextvars()
    operation = getattr(handler, "operation", "Unknown")
    structlog.contextvars.bind_contextvars(operation=operation)
    if "FunctionName" in request.match_info:
        structlog.contextvars.bind_contextvars(function=request.match_info["FunctionName"])
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as error:  # raised by aiohttp itself: no route, body too large
        response = error_response(_http_error(error), str(uuid.uuid4()))
    except LambdaError as error:  # the caller's signature or permission (core.auth)
        response = error_response(gateway_error(error.code, error.message), str(uuid.uuid4()))
    except ParamValidationError as error:  # a nested member of the body has the wrong shape
        response = error_response(
            gateway_error(
                "InvalidRequestContentException",
                f"Could not parse request body into json: {error.report}",
            ),
            str(uuid.uuid4()),
        )
    except Exception as error:
        if not _expected(error):
            log.exception("http_failed")
        response = error_response(error, str(uuid.uuid4()))
    response.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    fields: dict[str, Any] = {"status": response.status, "duration_ms": duration_ms}
    if "X-Amzn-ErrorType" in response.headers:
        fields["error"] = response.headers["X-Amzn-ErrorType"]
    log.info("http_handled", request_id=response.headers["x-amzn-RequestId"], **fields)
    return response


def _expected(error: Exception) -> bool:
    """Errors that are the caller's or a peer's, not a bug here: no stack trace in the log."""
    return isinstance(error, ServiceError | EndpointConnectionError)


def _http_error(error: web.HTTPException) -> Exception:
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        return gateway_error(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {MAX_BODY_BYTES} bytes for this operation",
        )
    if isinstance(error, web.HTTPNotFound | web.HTTPMethodNotAllowed):
        return gateway_error(
            "UnknownOperationException", f"No operation at {error.status} {error.reason}"
        )
    return error


def create_app(client: AsyncClient, verifier: Verifier | None = None) -> web.Application:
    """The aiohttp application; ``client`` reaches the Invoker; ``verifier`` checks callers'
    signatures (None: every caller is accepted)."""
    app = web.Application(middlewares=[_errors_and_log], client_max_size=MAX_BODY_BYTES)
    app[CLIENT] = client
    app[VERIFIER] = verifier
    for route in rest.routes():
        app.router.add_route(route.method, route.path, _handler(route.operation))
    app.router.add_get("/health", health)
    return app


class Gateway:
    """The gateway as a server ``Worker``: ``start()`` listens, ``stop()`` drains and closes."""

    def __init__(
        self,
        listen: str,
        client: AsyncClient,
        verifier: Verifier | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad HTTP listen address {listen!r}: expected HOST:PORT")
        self.listen = listen
        self.host = host.strip("[]")
        self.client = client
        self.verifier = verifier
        self.ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = int(port)

    @property
    def address(self) -> str:
        """``host:port``; once started, the real port (port 0 in ``listen`` picks a free one)."""
        return f"{self.listen.rsplit(':', 1)[0]}:{self.port}"

    @property
    def url(self) -> str:
        """The ``--endpoint-url`` for the AWS CLI and SDKs."""
        return f"{'https' if self.ssl_context else 'http'}://{self.address}"

    async def start(self) -> None:
        runner = web.AppRunner(create_app(self.client, self.verifier), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            raise OSError(f"cannot listen on {self.listen} (HTTP): {error.strerror}") from None
        self._runner = runner
        self.port = _bound_port(runner)
        log.info("gateway_started", url=self.url)

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            log.info("gateway_stopped", url=self.url)


def _bound_port(runner: web.AppRunner) -> int:
    address: Any = runner.addresses[0]
    return int(address[1])
