"""Gathering concurrent Event invokes into InvokeBatch calls (the asyncio client's hot path).

Google Cloud Pub/Sub's publisher does the same for messages. A call goes out at once while
fewer than ``max_in_flight`` are on the wire; while they are, later invokes wait and leave
together in the next call. There is no timer, so a lone invoke is never delayed, and under load
each RPC (and each server commit) carries as many invocations as arrived during one round trip.
Each invoke still gets its own answer: its request id, or the exception Invoke would raise.
A server without InvokeBatch (an older one) answers UNIMPLEMENTED: from then on, for the rest of
its life, this client sends each invoke on its own Invoke call, those of the refused call and
those waiting for a call included.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeAlias

import grpc

from eventinvoke.client import errors
from eventinvoke.v1 import invoker_service_pb2 as pb

_CODES = {code.value[0]: code for code in grpc.StatusCode}
UNIMPLEMENTED = grpc.StatusCode.UNIMPLEMENTED.name  # a server's code for an RPC it lacks
MAX_IN_FLIGHT = 2  # InvokeBatch calls on the wire at once
MAX_INVOCATIONS = 500  # per call
MAX_BYTES = 8 * 1024 * 1024  # payload bytes per call (one larger invocation still goes alone)

Send: TypeAlias = Callable[[pb.InvokeBatchRequest], Awaitable[pb.InvokeBatchResponse]]
SendOne: TypeAlias = Callable[[pb.InvokeRequest], Awaitable[pb.InvokeResponse]]
_Waiting: TypeAlias = tuple[pb.InvokeRequest, "asyncio.Future[pb.InvokeResponse]"]


class EventBatcher:
    """Sends Event invokes in InvokeBatch calls; ``send`` makes one call and ``send_one`` one
    Invoke call (for a server without InvokeBatch), each raising the client's exceptions."""

    def __init__(self, send: Send, send_one: SendOne, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._send = send
        self._send_one = send_one
        self._max_in_flight = max_in_flight
        self._waiting: deque[_Waiting] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._unbatched = False  # the server has no InvokeBatch

    async def invoke(self, request: pb.InvokeRequest) -> pb.InvokeResponse:
        if self._unbatched:
            return await self._send_one(request)
        future: asyncio.Future[pb.InvokeResponse] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if len(self._in_flight) < self._max_in_flight:
            self._start()
        return await future

    def _start(self) -> None:
        batch: list[_Waiting] = []
        size = 0
        while self._waiting and len(batch) < MAX_INVOCATIONS:
            request, future = self._waiting[0]
            if batch and size + len(request.payload) > MAX_BYTES:
                break
            self._waiting.popleft()
            if not future.cancelled():  # a caller that gave up before sending sends nothing
                batch.append((request, future))
                size += len(request.payload)
        if not batch:
            return
        # Once the server is known to lack InvokeBatch, what waited for a call goes one by one.
        work = self._one_by_one(batch + self._drain()) if self._unbatched else self._call(batch)
        task = asyncio.create_task(work)
        self._in_flight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._waiting:
            self._start()

    async def _call(self, batch: list[_Waiting]) -> None:
        try:
            response = await self._send(
                pb.InvokeBatchRequest(invocations=[request for request, _ in batch])
            )
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except errors.ServiceError as error:
            if error.code != UNIMPLEMENTED:  # the call as a whole failed: every invoke hears why
                _fail(batch, error)
                return
            self._unbatched = True
            await self._one_by_one(batch + self._drain())
            return
        except Exception as error:
            _fail(batch, error)
            return
        if len(response.results) != len(batch):
            _fail(batch, _mismatch(len(batch), len(response.results)))
            return
        for (_, future), result in zip(batch, response.results, strict=True):
            if future.done():
                continue
            if result.HasField("error"):
                future.set_exception(_error(result.error))
            else:
                future.set_result(result.response)

    def _drain(self) -> list[_Waiting]:
        waiting = [(r, f) for r, f in self._waiting if not f.cancelled()]
        self._waiting.clear()
        return waiting

    async def _one_by_one(self, batch: list[_Waiting]) -> None:
        try:
            answers = await asyncio.gather(
                *(self._send_one(request) for request, _ in batch), return_exceptions=True
            )
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)


def _fail(batch: list[_Waiting], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


def _error(error: pb.InvokeError) -> errors.ServiceError:
    code = _CODES.get(error.code, grpc.StatusCode.UNKNOWN)
    return errors.from_error_info(code, error.reason, error.message, error.metadata, "Invoke")


def _mismatch(sent: int, answered: int) -> errors.ServiceError:
    message = f"InvokeBatch answered {answered} results for {sent} invocations"
    return errors.service_error("ServiceException", message, 500, operation_name="Invoke")
