"""One server interceptor: per-call log context, authentication and the role's permission (when
credentials are configured), request validation, the canonical log line, and error mapping."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog

from eventinvoke.api.operations import BY_RPC
from eventinvoke.backends.base import BackendUnavailable
from eventinvoke.core.auth import Role, Verifier, denied, grpc_request, permits
from eventinvoke.core.errors import (
    InvalidRequestContentException,
    LambdaError,
    ServiceException,
    ServiceUnavailableException,
)
from eventinvoke.core.model import LINEAGE_METADATA
from eventinvoke.server.status import to_status
from eventinvoke.server.validation import check, operation_of

log = structlog.get_logger("eventinvoke.rpc")

# Calls too frequent to log one line each (health probes).
QUIET_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})


class ServerInterceptor(grpc.aio.ServerInterceptor):
    """Wraps every unary handler: binds contextvars, logs one line, maps errors once."""

    def __init__(self, verifier: Verifier | None = None) -> None:
        # One wrapped handler per method, built on its first call (gRPC asks on every call).
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}
        self._verifier = verifier

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        wrapped = self._wrapped.get(details.method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None or details.method in QUIET_METHODS:
            return handler
        wrapped = _wrap(details.method, handler, self._verifier)
        self._wrapped[details.method] = wrapped
        return wrapped


class _Undecodable:
    """A request whose bytes are not its message: the handler answers it with a domain error
    (gRPC would answer a deserializer's exception with UNKNOWN and the parser's words)."""


def _deserializer(parse: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
    def deserialize(data: bytes) -> Any:
        if parse is None:
            return data
        try:
            return parse(data)
        except Exception:  # DecodeError, and whatever else a parser of hostile bytes raises
            return _Undecodable()

    return deserialize


def _wrap(
    method: str, handler: grpc.RpcMethodHandler, verifier: Verifier | None
) -> grpc.RpcMethodHandler:
    inner = handler.unary_unary
    rpc = method.rsplit("/", 1)[-1]
    operation = operation_of(method)  # an AWS operation's requests are checked first
    # The role the table gives the method; a method it does not list is an administrator's.
    entry = BY_RPC.get(method.removeprefix("/eventinvoke.v1."))
    needed: Role = entry.role if entry is not None else "admin"

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(rpc=rpc)
        function = getattr(request, "function_name", "")  # most requests name one
        if function:
            structlog.contextvars.bind_contextvars(function=function)
        started = time.perf_counter()
        try:
            if verifier is not None:
                metadata = dict(context.invocation_metadata() or ())
                caller = verifier.verify(grpc_request(method, metadata))
                if not permits(caller.role, needed):
                    raise denied(caller, rpc, needed)
                if LINEAGE_METADATA in metadata and not permits(caller.role, "service"):
                    # A chain's lineage comes from the suite's own services alone.
                    raise denied(caller, f"{rpc} with {LINEAGE_METADATA}", "service")
            if isinstance(request, _Undecodable):
                raise InvalidRequestContentException(
                    f"Could not parse request body: not a protobuf message of {method}'s request"
                )
            if operation is not None:
                check(operation.name, request)
            response = await inner(request, context)
        except LambdaError as error:
            _log(started, "error", error=error.code, message=error.message)
            await context.abort_with_status(to_status(error))
        except BackendUnavailable as error:
            # Nothing was accepted: the caller may retry (never a 202 the backend did not take).
            log.warning("backend_unavailable", reason=str(error))
            _log(started, "error", error="ServiceUnavailableException")
            await context.abort_with_status(
                to_status(
                    ServiceUnavailableException(
                        "The service is unavailable. Try again.", retryAfterSeconds="1"
                    )
                )
            )
        except (grpc.aio.AbortError, grpc.RpcError):
            raise
        except Exception:
            log.exception("rpc_failed")
            _log(started, "error", error="ServiceException")
            await context.abort_with_status(
                to_status(ServiceException("An internal error occurred. See the server log."))
            )
        else:
            _log(started, "ok")
            return response

    return grpc.unary_unary_rpc_method_handler(
        unary,
        request_deserializer=_deserializer(handler.request_deserializer),
        response_serializer=handler.response_serializer,
    )


def _log(started: float, outcome: str, **fields: Any) -> None:
    duration_ms = round((time.perf_counter() - started) * 1000, 3)
    log.info("rpc_handled", outcome=outcome, duration_ms=duration_ms, **fields)
