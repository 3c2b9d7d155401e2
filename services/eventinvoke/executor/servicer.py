"""The Executor's gRPC servicer: synchronous runs."""

from __future__ import annotations

import grpc

from eventinvoke.backends.base import FunctionStore
from eventinvoke.core.arn import Partition
from eventinvoke.core.errors import ResourceNotFoundException
from eventinvoke.executor.code import CodeCache
from eventinvoke.executor.sandbox import Invocation, SandboxPool
from eventinvoke.v1 import executor_service_pb2 as pb
from eventinvoke.v1 import executor_service_pb2_grpc as pb_grpc


class ExecutorServicer(pb_grpc.ExecutorServicer):
    def __init__(
        self, store: FunctionStore, pool: SandboxPool, code: CodeCache, partition: Partition
    ) -> None:
        self.store = store
        self.pool = pool
        self.code = code
        self.partition = partition

    async def Execute(
        self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExecuteResponse:
        function = await self.store.get_function(
            request.function_name, request.qualifier or "$LATEST"
        )
        if function is None:
            arn = self.partition.function_arn(request.function_name, request.qualifier or None)
            raise ResourceNotFoundException(f"Function not found: {arn}")
        code_dir = await self.code.ensure(function)
        outcome = await self.pool.run(
            function,
            code_dir,
            Invocation(
                request_id=request.request_id,
                payload=request.payload,
                invoked_function_arn=request.invoked_function_arn,
                client_context=request.client_context,
                tail_log=request.tail_log,
            ),
        )
        return pb.ExecuteResponse(
            payload=outcome.payload,
            function_error=outcome.function_error or "",
            executed_version=function.version,
            log_tail=outcome.log_tail,
        )
