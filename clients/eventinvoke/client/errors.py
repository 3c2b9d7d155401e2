"""The exceptions the client raises, and the one table that maps a gRPC status onto them.

The servers send every error as a non-OK status whose details hold one ``google.rpc.ErrorInfo``:
``reason`` is the AWS exception name, ``metadata["httpStatus"]`` the HTTP status AWS would use,
and the status message is AWS's message. That comes back here as the exception of the same name,
so callers catch ``ResourceNotFoundException`` exactly as they would with boto3.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2

from eventinvoke.client._transport import ADDRESSES, Service


class EventInvokeError(Exception):
    """Base of every exception this client raises."""


class ServiceError(EventInvokeError):
    """The service answered with an error: AWS's exception name, message and HTTP status."""

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = 500,
        metadata: Mapping[str, str] | None = None,
        operation_name: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.metadata = dict(metadata or {})
        # The AWS operation that failed (e.g. "GetFunction"), for messages like the AWS CLI's.
        self.operation_name = operation_name

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.http_status})"


class ResourceNotFoundException(ServiceError):
    pass


class InvalidParameterValueException(ServiceError):
    pass


class ValidationException(ServiceError):
    pass


class InvalidRequestContentException(ServiceError):
    pass


class RequestEntityTooLargeException(ServiceError):
    pass


class ResourceConflictException(ServiceError):
    pass


class PreconditionFailedException(ServiceError):
    pass


class TooManyRequestsException(ServiceError):
    pass


class ServiceException(ServiceError):
    pass


class AccessDeniedException(ServiceError):
    """The credential's role does not allow the operation."""


class UnrecognizedClientException(ServiceError):
    """The access key id is not one the server knows."""


class InvalidSignatureException(ServiceError):
    """A wrong secret, or a signature too old or too new (15 minutes either way)."""


class MissingAuthenticationTokenException(ServiceError):
    """The server takes only signed calls, and this one was not."""


class IncompleteSignatureException(ServiceError):
    """A malformed signature."""


class EndpointConnectionError(EventInvokeError):
    """Nothing answered at the endpoint (botocore's exception of the same name)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(f'Could not connect to the endpoint URL: "{endpoint}"')
        self.endpoint = endpoint


class ParamValidationError(EventInvokeError, ValueError):
    """A request argument has the wrong shape; nothing was sent (botocore's exception)."""

    def __init__(self, report: str) -> None:
        super().__init__(f"Parameter validation failed:\n{report}")
        self.report = report


# ErrorInfo.reason -> exception class: the classes above, each named for its entry in the table
# of errors (eventinvoke.api.errors). A reason not listed becomes a plain ServiceError.
_BY_REASON: dict[str, type[ServiceError]] = {
    cls.__name__: cls for cls in ServiceError.__subclasses__()
}

# For a status without ErrorInfo: the HTTP status of each gRPC code (google.rpc.Code's mapping).
_HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def error_info(status: status_pb2.Status | None) -> error_details_pb2.ErrorInfo | None:
    """The ``ErrorInfo`` among a rich status's details, if there is one."""
    if status is None:
        return None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    return None


def from_status(
    code: grpc.StatusCode,
    message: str,
    status: status_pb2.Status | None,
    *,
    endpoint: str,
    operation_name: str,
    service: Service,
) -> EventInvokeError:
    """The exception for a failed call to ``service`` at ``endpoint``: its gRPC code, message
    and rich status (if any)."""
    info = error_info(status)
    if info is None:
        # No ErrorInfo means no eventinvoke service produced this.
        if code is grpc.StatusCode.UNAVAILABLE:  # the connection failed
            return EndpointConnectionError(endpoint)
        if code is grpc.StatusCode.UNIMPLEMENTED:
            # gRPC's own "Method not found!": a server of a split deployment that does not
            # carry this service. Say which address to pass instead.
            message = _not_served(service, endpoint, operation_name)
        return ServiceError(
            code.name, message, _HTTP_STATUS.get(code, 500), operation_name=operation_name
        )
    return from_error_info(code, info.reason, message, info.metadata, operation_name)


def _not_served(service: Service, endpoint: str, operation_name: str) -> str:
    where = ADDRESSES[service]
    return (
        f"The server at {endpoint} does not serve {where.grpc_name} ({operation_name}): pass "
        f"{where.option} (or {where.envvar}; {where.keyword}= in the Python client) with the "
        f"{where.title}'s address."
    )


def from_error_info(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: Mapping[str, str],
    operation_name: str,
) -> ServiceError:
    """The exception for an ErrorInfo's reason and metadata (its ``httpStatus``, else the gRPC
    code's), from a call's status or an InvokeBatch result."""
    metadata = dict(metadata)
    try:
        http_status = int(metadata.get("httpStatus", ""))
    except ValueError:
        http_status = _HTTP_STATUS.get(code, 500)
    return service_error(reason, message, http_status, metadata, operation_name)


def service_error(
    code: str,
    message: str,
    http_status: int,
    metadata: Mapping[str, str] | None = None,
    operation_name: str = "",
) -> ServiceError:
    """The typed exception for an AWS error code (a plain ServiceError for unknown codes)."""
    cls = _BY_REASON.get(code, ServiceError)
    return cls(code, message, http_status, metadata, operation_name)
