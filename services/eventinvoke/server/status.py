"""The one table that turns domain errors into gRPC statuses with google.rpc.ErrorInfo."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from eventinvoke.core import auth, errors

ERROR_DOMAIN = "lambda.eventinvoke"

# AWS exception → gRPC status code. Anything not listed is INTERNAL.
GRPC_CODES: dict[type[errors.LambdaError], grpc.StatusCode] = {
    errors.ResourceNotFoundException: grpc.StatusCode.NOT_FOUND,
    errors.InvalidParameterValueException: grpc.StatusCode.INVALID_ARGUMENT,
    errors.ValidationException: grpc.StatusCode.INVALID_ARGUMENT,
    errors.InvalidRequestContentException: grpc.StatusCode.INVALID_ARGUMENT,
    errors.RequestEntityTooLargeException: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.TooManyRequestsException: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.ResourceConflictException: grpc.StatusCode.ALREADY_EXISTS,
    errors.ServiceException: grpc.StatusCode.INTERNAL,
    errors.ServiceUnavailableException: grpc.StatusCode.UNAVAILABLE,
    **{error: grpc.StatusCode.UNAUTHENTICATED for error in auth.AUTH_ERRORS},
    auth.AccessDeniedException: grpc.StatusCode.PERMISSION_DENIED,
}


def grpc_code(error: errors.LambdaError) -> grpc.StatusCode:
    return GRPC_CODES.get(type(error), grpc.StatusCode.INTERNAL)


def error_info(error: errors.LambdaError) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(
        reason=error.code,
        domain=ERROR_DOMAIN,
        metadata={"httpStatus": str(error.http_status), **error.metadata},
    )


def to_status(error: errors.LambdaError) -> grpc.Status:
    code = grpc_code(error)
    detail = any_pb2.Any()
    detail.Pack(error_info(error))
    status = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=errors.bounded(error.message), details=[detail]
    )
    return rpc_status.to_status(status)
