"""The Executor's gRPC servicer: synchronous runs and the functions' logs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc

from eventinvoke.backends.base import ConcurrencySlots, FunctionStore, resolve_qualifier
from eventinvoke.core.arn import Partition
from eventinvoke.core.errors import (
    RESERVED_CONCURRENCY_EXCEEDED,
    InvalidParameterValueException,
    ResourceNotFoundException,
    rate_exceeded,
)
from eventinvoke.executor import logs
from eventinvoke.executor.code import CodeCache
from eventinvoke.executor.sandbox import Invocation, Sandboxes, Throttled
from eventinvoke.server import tracing
from eventinvoke.v1 import executor_service_pb2 as pb
from eventinvoke.v1 import executor_service_pb2_grpc as pb_grpc


@dataclass
class ExecutorServicer(pb_grpc.ExecutorServicer):
    store: FunctionStore
    pool: Sandboxes
    code: CodeCache
    partition: Partition
    slots: ConcurrencySlots
    lease_margin: float = 30.0  # a slot outlives the run by this, should we crash

    async def Execute(
        self, request: pb.ExecuteRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExecuteResponse:
        # The Invoker sends the version it resolved; an alias (from another caller) resolves here.
        function = await resolve_qualifier(
            self.store, request.function_name, request.qualifier or None
        )
        if function is None:
            arn = self.partition.function_arn(request.function_name, request.qualifier or None)
            raise ResourceNotFoundException(f"Function not found: {arn}")
        code_dir = await self.code.ensure(function)
        reserved = function.reserved_concurrent_executions
        # A reservation counts synchronous runs too, across every executor.
        holder = f"sync/{request.request_id}" if reserved else None
        if holder is not None and not await self.slots.acquire(
            function.name, reserved or 0, holder, function.timeout + self.lease_margin
        ):
            raise rate_exceeded(RESERVED_CONCURRENCY_EXCEEDED, retry_after=1)
        try:
            # In the caller's trace (the call's own span), as an Event invocation's runs are.
            with tracing.span("run", **tracing.invocation(request.request_id, function.name)):
                outcome = await self.pool.run(
                    function,
                    code_dir,
                    Invocation(
                        request_id=request.request_id,
                        payload=request.payload,
                        invoked_function_arn=request.invoked_function_arn,
                        client_context=request.client_context,
                        tail_log=request.tail_log,
                        trace_id=tracing.xray_header(tracing.traceparent()),
                    ),
                    # No concurrency free: 429 now, as AWS (docs/aws-behaviour.md §1.4).
                    wait=False,
                )
        except Throttled as throttled:
            raise rate_exceeded(throttled.reason, retry_after=1) from None
        finally:
            if holder is not None:
                await self.slots.release(function.name, holder)
        return pb.ExecuteResponse(
            payload=outcome.payload,
            function_error=outcome.function_error or "",
            executed_version=function.version,
            log_tail=outcome.log_tail,
        )

    async def GetFunctionLogs(
        self, request: pb.GetFunctionLogsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFunctionLogsResponse:
        name = request.function_name
        missing = ResourceNotFoundException(
            f"Function not found: {self.partition.function_arn(name)}"
        )
        if not name or name.startswith(".") or "/" in name:  # never outside the log dir
            raise missing
        directory = self.pool.log_dir / name
        await self.pool.flush_log_indexes()
        if not directory.is_dir() and await self.store.get_function(name) is None:
            raise missing
        try:
            lines, cursor = await asyncio.to_thread(
                logs.read, directory, request.start_time, request.cursor, request.limit
            )
        except ValueError:
            raise InvalidParameterValueException("The specified cursor is not valid.") from None
        return pb.GetFunctionLogsResponse(
            events=[
                pb.LogEvent(
                    timestamp=line.timestamp,
                    message=line.message,
                    log_stream_name=line.log_stream_name,
                )
                for line in lines
            ],
            next_cursor=cursor,
        )
