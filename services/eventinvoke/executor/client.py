"""The Executor's API as the Invoker uses it (synchronous runs)."""

from __future__ import annotations

import grpc

from eventinvoke.invoker.invocations import SyncResult
from eventinvoke.v1 import executor_service_pb2 as pb
from eventinvoke.v1 import executor_service_pb2_grpc as pb_grpc


class ExecutorClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.stub = pb_grpc.ExecutorStub(channel)

    async def execute(
        self,
        *,
        function_name: str,
        qualifier: str,
        request_id: str,
        payload: bytes,
        invoked_function_arn: str,
        tail_log: bool,
        client_context: str,
    ) -> SyncResult:
        response = await self.stub.Execute(
            pb.ExecuteRequest(
                function_name=function_name,
                qualifier=qualifier,
                request_id=request_id,
                payload=payload,
                invoked_function_arn=invoked_function_arn,
                tail_log=tail_log,
                client_context=client_context,
            )
        )
        return SyncResult(
            payload=response.payload,
            function_error=response.function_error or None,
            executed_version=response.executed_version,
            log_tail=response.log_tail,
        )
