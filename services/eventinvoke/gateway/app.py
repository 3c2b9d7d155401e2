"""The Lambda REST API over HTTP, translated to the Invoker's gRPC API.

``aws lambda ... --endpoint-url`` and boto3 work unchanged against it. Each handler is one
translation: REST request -> ``AsyncClient`` call -> REST response. Errors leave through
``errors.error_response`` only.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from eventinvoke.client import (
    AsyncClient,
    EndpointConnectionError,
    ParamValidationError,
    ServiceError,
)
from eventinvoke.gateway import translate
from eventinvoke.gateway.errors import error_response, gateway_error

log = structlog.get_logger("eventinvoke.gateway")

CLIENT = web.AppKey("client", AsyncClient)
# A request body larger than this is refused before it is read. It leaves room for a 50 MB
# deployment package, base64-encoded in CreateFunction's JSON; Invoke's own limits (6 MB sync,
# 1 MB async) are the Invoker's to enforce, with AWS's message.
MAX_BODY_BYTES = 70 * 1024 * 1024
MAX_INVOKE_ASYNC_BYTES = 262144  # legacy InvokeAsync (docs/aws-behaviour.md §1.3)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _client(request: web.Request) -> AsyncClient:
    return request.app[CLIENT]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _empty(status: int) -> web.Response:
    return web.Response(status=status)


# --- Invoke ------------------------------------------------------------------------------------


async def invoke(request: web.Request) -> web.Response:
    """POST /2015-03-31/functions/{FunctionName}/invocations"""
    headers = request.headers
    response = await _client(request).invoke(
        request.match_info["function_name"],
        await request.read(),
        invocation_type=translate.enum_header(
            headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            "invocationType",
            translate.INVOCATION_TYPES,
        ),
        log_type=translate.enum_header(
            headers.get("X-Amz-Log-Type", "None"), "logType", translate.LOG_TYPES
        ),
        qualifier=request.query.get("Qualifier", ""),
        client_context=headers.get("X-Amz-Client-Context", ""),
    )
    out = web.Response(status=response["StatusCode"])
    out.headers["x-amzn-RequestId"] = response["ResponseMetadata"]["RequestId"]
    if response["StatusCode"] == 200:  # only a synchronous run has a result and these headers
        out.body = response.get("Payload", b"")
        out.content_type = "application/json"
        out.headers["X-Amz-Executed-Version"] = response.get("ExecutedVersion", "$LATEST")
        if "FunctionError" in response:
            out.headers["X-Amz-Function-Error"] = response["FunctionError"]
        if "LogResult" in response:
            out.headers["X-Amz-Log-Result"] = response["LogResult"]
    return out


async def invoke_async(request: web.Request) -> web.Response:
    """POST /2014-11-13/functions/{FunctionName}/invoke-async/ (deprecated; 202 {"Status": 202})"""
    payload = await request.read()
    if len(payload) > MAX_INVOKE_ASYNC_BYTES:
        raise gateway_error(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {MAX_INVOKE_ASYNC_BYTES} bytes for the InvokeAsync "
            "operation",
        )
    response = await _client(request).invoke(
        request.match_info["function_name"], payload, invocation_type="Event"
    )
    out = _json({"Status": 202}, status=202)
    out.headers["x-amzn-RequestId"] = response["ResponseMetadata"]["RequestId"]
    return out


# --- functions ---------------------------------------------------------------------------------


async def create_function(request: web.Request) -> web.Response:
    """POST /2015-03-31/functions"""
    args = translate.create_function_args(translate.json_body(await request.read()))
    return _json(await _client(request).create_function(**args), status=201)


async def get_function(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/{FunctionName}"""
    response = await _client(request).get_function(
        request.match_info["function_name"], request.query.get("Qualifier", "")
    )
    return _json(translate.without_metadata(response))


async def get_function_configuration(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/{FunctionName}/configuration"""
    return _json(
        await _client(request).get_function_configuration(
            request.match_info["function_name"], request.query.get("Qualifier", "")
        )
    )


async def update_function_configuration(request: web.Request) -> web.Response:
    """PUT /2015-03-31/functions/{FunctionName}/configuration"""
    args = translate.update_function_configuration_args(translate.json_body(await request.read()))
    return _json(
        await _client(request).update_function_configuration(
            request.match_info["function_name"], **args
        )
    )


async def update_function_code(request: web.Request) -> web.Response:
    """PUT /2015-03-31/functions/{FunctionName}/code"""
    args = translate.update_function_code_args(translate.json_body(await request.read()))
    return _json(
        await _client(request).update_function_code(request.match_info["function_name"], **args)
    )


async def delete_function(request: web.Request) -> web.Response:
    """DELETE /2015-03-31/functions/{FunctionName}?Qualifier= (204): with a version number as
    Qualifier, only that version."""
    await _client(request).delete_function(
        request.match_info["function_name"], request.query.get("Qualifier") or None
    )
    return _empty(204)


async def list_functions(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/?Marker=&MaxItems="""
    response = await _client(request).list_functions(
        marker=request.query.get("Marker") or None,
        max_items=translate.int_query(request.query.get("MaxItems"), "MaxItems"),
    )
    return _json(translate.without_metadata(response))


# --- versions and aliases ----------------------------------------------------------------------

PRECONDITION_FAILED = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)


async def publish_version(request: web.Request) -> web.Response:
    """POST /2015-03-31/functions/{FunctionName}/versions (201)"""
    args = translate.publish_version_args(translate.json_body(await request.read()))
    return _json(
        translate.without_metadata(
            await _client(request).publish_version(request.match_info["function_name"], **args)
        ),
        status=201,
    )


async def list_versions_by_function(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/{FunctionName}/versions?Marker=&MaxItems="""
    response = await _client(request).list_versions_by_function(
        request.match_info["function_name"],
        marker=request.query.get("Marker") or None,
        max_items=translate.int_query(request.query.get("MaxItems"), "MaxItems"),
    )
    return _json(translate.without_metadata(response))


async def create_alias(request: web.Request) -> web.Response:
    """POST /2015-03-31/functions/{FunctionName}/aliases (201)"""
    args = translate.create_alias_args(translate.json_body(await request.read()))
    response = await _client(request).create_alias(request.match_info["function_name"], **args)
    return _json(translate.without_metadata(response), status=201)


async def get_alias(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/{FunctionName}/aliases/{Name}"""
    response = await _client(request).get_alias(
        request.match_info["function_name"], request.match_info["name"]
    )
    return _json(translate.without_metadata(response))


async def update_alias(request: web.Request) -> web.Response:
    """PUT /2015-03-31/functions/{FunctionName}/aliases/{Name}"""
    body = translate.json_body(await request.read())
    args = translate.update_alias_args(body)
    function_name, name = request.match_info["function_name"], request.match_info["name"]
    client = _client(request)
    revision_id = translate.revision_id(body)
    if revision_id is not None:
        # Optimistic locking, as AWS: the alias must still be the one the caller read. (A
        # change between this read and the update is not caught.)
        current = await client.get_alias(function_name, name)
        if current["RevisionId"] != revision_id:
            raise gateway_error("PreconditionFailedException", PRECONDITION_FAILED)
    response = await client.update_alias(function_name, name, **args)
    return _json(translate.without_metadata(response))


async def delete_alias(request: web.Request) -> web.Response:
    """DELETE /2015-03-31/functions/{FunctionName}/aliases/{Name} (204)"""
    await _client(request).delete_alias(
        request.match_info["function_name"], request.match_info["name"]
    )
    return _empty(204)


async def list_aliases(request: web.Request) -> web.Response:
    """GET /2015-03-31/functions/{FunctionName}/aliases?FunctionVersion=&Marker=&MaxItems="""
    response = await _client(request).list_aliases(
        request.match_info["function_name"],
        function_version=request.query.get("FunctionVersion") or None,
        marker=request.query.get("Marker") or None,
        max_items=translate.int_query(request.query.get("MaxItems"), "MaxItems"),
    )
    return _json(translate.without_metadata(response))


# --- reserved concurrency -------------------------------------------------------------------------


async def put_function_concurrency(request: web.Request) -> web.Response:
    """PUT /2017-10-31/functions/{FunctionName}/concurrency"""
    reserved = translate.json_body(await request.read()).get("ReservedConcurrentExecutions")
    if not isinstance(reserved, int) or isinstance(reserved, bool):
        raise gateway_error(
            "ValidationException",
            f"1 validation error detected: Value {reserved if reserved is not None else 'null'} "
            "at 'reservedConcurrentExecutions' failed to satisfy constraint: "
            "Member must not be null",
        )
    response = await _client(request).put_function_concurrency(
        request.match_info["function_name"], reserved
    )
    return _json(translate.without_metadata(response))


async def get_function_concurrency(request: web.Request) -> web.Response:
    """GET /2019-09-30/functions/{FunctionName}/concurrency"""
    response = await _client(request).get_function_concurrency(request.match_info["function_name"])
    return _json(translate.without_metadata(response))


async def delete_function_concurrency(request: web.Request) -> web.Response:
    """DELETE /2017-10-31/functions/{FunctionName}/concurrency (204)"""
    await _client(request).delete_function_concurrency(request.match_info["function_name"])
    return _empty(204)


# --- event invoke configs (2019-09-25) ----------------------------------------------------------


async def put_function_event_invoke_config(request: web.Request) -> web.Response:
    """PUT /2019-09-25/functions/{FunctionName}/event-invoke-config"""
    args = translate.event_invoke_config_args(translate.json_body(await request.read()))
    return _json(
        await _client(request).put_function_event_invoke_config(
            request.match_info["function_name"], request.query.get("Qualifier", ""), **args
        )
    )


async def update_function_event_invoke_config(request: web.Request) -> web.Response:
    """POST /2019-09-25/functions/{FunctionName}/event-invoke-config"""
    args = translate.event_invoke_config_args(translate.json_body(await request.read()))
    return _json(
        await _client(request).update_function_event_invoke_config(
            request.match_info["function_name"], request.query.get("Qualifier", ""), **args
        )
    )


async def get_function_event_invoke_config(request: web.Request) -> web.Response:
    """GET /2019-09-25/functions/{FunctionName}/event-invoke-config"""
    return _json(
        await _client(request).get_function_event_invoke_config(
            request.match_info["function_name"], request.query.get("Qualifier", "")
        )
    )


async def delete_function_event_invoke_config(request: web.Request) -> web.Response:
    """DELETE /2019-09-25/functions/{FunctionName}/event-invoke-config (204)"""
    await _client(request).delete_function_event_invoke_config(
        request.match_info["function_name"], request.query.get("Qualifier", "")
    )
    return _empty(204)


async def list_function_event_invoke_configs(request: web.Request) -> web.Response:
    """GET /2019-09-25/functions/{FunctionName}/event-invoke-config/list?Marker=&MaxItems="""
    response = await _client(request).list_function_event_invoke_configs(
        request.match_info["function_name"],
        marker=request.query.get("Marker") or None,
        max_items=translate.int_query(request.query.get("MaxItems"), "MaxItems"),
    )
    return _json(translate.without_metadata(response))


async def health(request: web.Request) -> web.Response:
    """GET /health: the gateway is up (it does not probe the Invoker)."""
    return _json({"status": "SERVING"})


FUNCTION = "/2015-03-31/functions/{function_name}"
CONFIG = "/2019-09-25/functions/{function_name}/event-invoke-config"
# (method, path, operation name, handler). The operation name is logged for each request.
ROUTES: list[tuple[str, str, str, Handler]] = [
    ("POST", FUNCTION + "/invocations", "Invoke", invoke),
    ("POST", "/2014-11-13/functions/{function_name}/invoke-async", "InvokeAsync", invoke_async),
    ("POST", "/2014-11-13/functions/{function_name}/invoke-async/", "InvokeAsync", invoke_async),
    ("POST", "/2015-03-31/functions", "CreateFunction", create_function),
    ("POST", "/2015-03-31/functions/", "CreateFunction", create_function),
    ("GET", "/2015-03-31/functions", "ListFunctions", list_functions),
    ("GET", "/2015-03-31/functions/", "ListFunctions", list_functions),
    ("GET", FUNCTION, "GetFunction", get_function),
    ("DELETE", FUNCTION, "DeleteFunction", delete_function),
    ("GET", FUNCTION + "/configuration", "GetFunctionConfiguration", get_function_configuration),
    (
        "PUT",
        FUNCTION + "/configuration",
        "UpdateFunctionConfiguration",
        update_function_configuration,
    ),
    ("PUT", FUNCTION + "/code", "UpdateFunctionCode", update_function_code),
    ("POST", FUNCTION + "/versions", "PublishVersion", publish_version),
    ("GET", FUNCTION + "/versions", "ListVersionsByFunction", list_versions_by_function),
    ("POST", FUNCTION + "/aliases", "CreateAlias", create_alias),
    ("GET", FUNCTION + "/aliases", "ListAliases", list_aliases),
    ("GET", FUNCTION + "/aliases/{name}", "GetAlias", get_alias),
    ("PUT", FUNCTION + "/aliases/{name}", "UpdateAlias", update_alias),
    ("DELETE", FUNCTION + "/aliases/{name}", "DeleteAlias", delete_alias),
    (
        "PUT",
        "/2017-10-31/functions/{function_name}/concurrency",
        "PutFunctionConcurrency",
        put_function_concurrency,
    ),
    (
        "GET",
        "/2019-09-30/functions/{function_name}/concurrency",
        "GetFunctionConcurrency",
        get_function_concurrency,
    ),
    (
        "DELETE",
        "/2017-10-31/functions/{function_name}/concurrency",
        "DeleteFunctionConcurrency",
        delete_function_concurrency,
    ),
    ("PUT", CONFIG, "PutFunctionEventInvokeConfig", put_function_event_invoke_config),
    ("POST", CONFIG, "UpdateFunctionEventInvokeConfig", update_function_event_invoke_config),
    ("GET", CONFIG, "GetFunctionEventInvokeConfig", get_function_event_invoke_config),
    ("DELETE", CONFIG, "DeleteFunctionEventInvokeConfig", delete_function_event_invoke_config),
    ("GET", CONFIG + "/list", "ListFunctionEventInvokeConfigs", list_function_event_invoke_configs),
    ("GET", "/health", "Health", health),
]


@web.middleware
async def _errors_and_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes AWS's error response; one log line per request; a request id always."""
    structlog.contextvars.clear_contextvars()
    operation = getattr(handler, "operation", request.match_info.route.name or "Unknown")
    structlog.contextvars.bind_contextvars(operation=operation)
    if "function_name" in request.match_info:
        structlog.contextvars.bind_contextvars(function=request.match_info["function_name"])
    started = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as error:  # raised by aiohttp itself: no route, body too large
        response = error_response(_http_error(error), str(uuid.uuid4()))
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


def create_app(client: AsyncClient) -> web.Application:
    """The aiohttp application; ``client`` reaches the Invoker."""
    app = web.Application(middlewares=[_errors_and_log], client_max_size=MAX_BODY_BYTES)
    app[CLIENT] = client
    for method, path, operation, handler in ROUTES:
        app.router.add_route(method, path, _named(handler, operation))
    return app


def _named(handler: Handler, operation: str) -> Handler:
    async def named(request: web.Request) -> web.StreamResponse:
        return await handler(request)

    named.operation = operation  # type: ignore[attr-defined]
    named.__doc__ = handler.__doc__
    return named


class Gateway:
    """The gateway as a server ``Worker``: ``start()`` listens, ``stop()`` drains and closes."""

    def __init__(self, listen: str, client: AsyncClient) -> None:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad HTTP listen address {listen!r}: expected HOST:PORT")
        self.listen = listen
        self.host = host.strip("[]")
        self.client = client
        self._runner: web.AppRunner | None = None
        self.port = int(port)

    @property
    def address(self) -> str:
        """``host:port``; once started, the real port (port 0 in ``listen`` picks a free one)."""
        return f"{self.listen.rsplit(':', 1)[0]}:{self.port}"

    @property
    def url(self) -> str:
        """The ``--endpoint-url`` for the AWS CLI and SDKs."""
        return f"http://{self.address}"

    async def start(self) -> None:
        runner = web.AppRunner(create_app(self.client), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
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
