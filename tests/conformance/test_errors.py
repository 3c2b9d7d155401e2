"""Every exception travels as the table of errors (``eventinvoke.api.errors``) says: its gRPC
code over gRPC, its HTTP status through the gateway, and AWS's name both ways."""

from __future__ import annotations

import grpc
import pytest
from botocore.exceptions import ClientError
from gateway.harness import GatewaySuite
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from eventinvoke.api.errors import ERRORS
from eventinvoke.client import ServiceError
from eventinvoke.core import auth, errors
from eventinvoke.server.status import grpc_code
from eventinvoke.v1 import invoker_service_pb2 as pb
from eventinvoke.v1 import invoker_service_pb2_grpc as pb_grpc

WRONG_REVISION = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(sub) for sub in found))


def test_every_exception_class_is_in_the_table() -> None:
    domain = {cls.__name__ for cls in _subclasses(errors.LambdaError)} - {"AuthenticationError"}
    client = {cls.__name__ for cls in _subclasses(ServiceError)}

    assert domain <= set(ERRORS)
    assert client <= set(ERRORS)
    for name in domain:
        error = getattr(errors, name, None) or getattr(auth, name)
        assert grpc_code(error("x")).name == ERRORS[name].grpc, name
        assert error("x").http_status == ERRORS[name].status, name
    for code in ("InvalidSignatureException", "MissingAuthenticationTokenException"):
        refused = auth.AuthenticationError(code, "x")
        assert (grpc_code(refused), refused.http_status) == (grpc.StatusCode.UNAUTHENTICATED, 403)


def test_a_precondition_failure_is_failed_precondition_over_grpc_and_412_over_http(
    gateway: GatewaySuite,
) -> None:
    gateway.deploy("precondition", "echo")

    with grpc.insecure_channel(gateway.address) as channel:
        stub = pb_grpc.InvokerStub(channel)
        with pytest.raises(grpc.RpcError) as over_grpc:
            stub.PublishVersion(
                pb.PublishVersionRequest(function_name="precondition", revision_id="not-it"),
                timeout=10,
            )
    with pytest.raises(ClientError) as over_http:
        gateway.boto3_lambda().publish_version(FunctionName="precondition", RevisionId="not-it")

    status = rpc_status.from_call(over_grpc.value)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert over_grpc.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # type: ignore[attr-defined]
    assert (info.reason, info.metadata["httpStatus"]) == ("PreconditionFailedException", "412")
    assert status.message == WRONG_REVISION
    response = over_http.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert response["Error"] == {"Code": "PreconditionFailedException", "Message": WRONG_REVISION}
