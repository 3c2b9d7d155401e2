"""Domain errors as gRPC statuses with google.rpc.ErrorInfo, as the table of errors says."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from eventinvoke.api.errors import ERROR_DOMAIN, ERRORS
from eventinvoke.core import errors

# AWS exception name -> gRPC status code, from the table of errors. Anything else is INTERNAL.
GRPC_CODES: dict[str, grpc.StatusCode] = {
    name: grpc.StatusCode[shape.grpc] for name, shape in ERRORS.items()
}


def grpc_code(error: errors.LambdaError) -> grpc.StatusCode:
    return GRPC_CODES.get(error.code, grpc.StatusCode.INTERNAL)


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
