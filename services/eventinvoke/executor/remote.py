"""The Executor in another process, as the Invoker runs synchronous invocations on it: its
``Execute`` RPC behind the Invoker's ``SyncExecutor`` interface."""

from __future__ import annotations

import dataclasses

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from eventinvoke.core import errors
from eventinvoke.core.model import Invocation
from eventinvoke.invoker.invocations import SyncResult
from eventinvoke.v1 import executor_service_pb2 as pb
from eventinvoke.v1 import executor_service_pb2_grpc as pb_grpc


class RemoteExecutor:
    """A ``SyncExecutor`` over the Executor service's gRPC stub."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = pb_grpc.ExecutorStub(channel)

    async def execute(
        self, function_name: str, qualifier: str, invocation: Invocation
    ) -> SyncResult:
        # ExecuteRequest's fields beside the function's are named after Invocation's, but for
        # the trace, which travels in the call's metadata (server/tracing.py).
        fields = dataclasses.asdict(invocation)
        del fields["trace_id"]
        call = self.stub.Execute(
            pb.ExecuteRequest(function_name=function_name, qualifier=qualifier, **fields)
        )
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            raise await _domain_error(call, exc) from exc
        return SyncResult(
            payload=response.payload,
            function_error=response.function_error or None,
            executed_version=response.executed_version,
            log_tail=response.log_tail,
        )


# AWS exception name -> domain class, for errors the Executor reports (e.g. a throttle).
_ERRORS: dict[str, type[errors.LambdaError]] = {
    cls.__name__: cls
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.LambdaError)
}


async def _domain_error(call: object, exc: grpc.aio.AioRpcError) -> Exception:
    """The Executor's LambdaError back as itself (name, message, metadata), so the Invoker
    passes it on to its caller unchanged; anything else stays the RPC error it is."""
    try:
        status = await rpc_status.aio.from_call(call)  # type: ignore[arg-type]
    except ValueError:
        status = None
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info) and info.reason in _ERRORS:
            metadata = {k: v for k, v in info.metadata.items() if k != "httpStatus"}
            return _ERRORS[info.reason](exc.details() or "", **metadata)
    return exc
