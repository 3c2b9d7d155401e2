"""Peers in the same process, reached by a call instead of a gRPC round trip."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

import structlog

from eventinvoke.client import AsyncClient, Keys, Tls, errors
from eventinvoke.core.errors import LambdaError
from eventinvoke.core.model import LINEAGE_METADATA, ExecutionRecord, Lineage, QueuedEvent
from eventinvoke.destinations.lambda_ import LambdaDestination
from eventinvoke.invoker.functions import Functions
from eventinvoke.invoker.invocations import Invocations, prepare_event, uuid_text
from eventinvoke.router.plugin import DEAD_LETTER
from eventinvoke.router.registry import Destinations

log = structlog.get_logger("eventinvoke.executor")


class _Invoker:
    """A ``FunctionInvoker`` (router/plugin.py): the payload as bytes, then ``_invoke``."""

    async def invoke(
        self,
        function_name: str,
        payload: bytes | str = b"",
        invocation_type: str = "RequestResponse",
        *,
        lineage: Lineage | None = None,
    ) -> Mapping[str, Any]:
        data = payload.encode() if isinstance(payload, str) else payload
        return await self._invoke(function_name, data, invocation_type, lineage)

    async def _invoke(
        self, function_name: str, payload: bytes, invocation_type: str, lineage: Lineage | None
    ) -> Mapping[str, Any]:
        raise NotImplementedError


class LocalInvoker(_Invoker):
    """The Invoker of this process, with the client's face (``RouterContext.invoker`` in ``up``).

    Adapters see the same responses and typed errors as from ``eventinvoke.client.AsyncClient``.
    """

    def __init__(self, invocations: Invocations) -> None:
        self.invocations = invocations

    async def _invoke(
        self, function_name: str, payload: bytes, invocation_type: str, lineage: Lineage | None
    ) -> dict[str, Any]:
        try:
            result = await self.invocations.invoke(
                function_name, payload, invocation_type=invocation_type, lineage=lineage
            )
        except LambdaError as error:
            raise errors.service_error(
                error.code, error.message, error.http_status, error.metadata, "Invoke"
            ) from None
        response: dict[str, Any] = {
            "StatusCode": result.status_code,
            "ResponseMetadata": {"RequestId": result.request_id},
        }
        if result.status_code == 200:
            response["Payload"] = result.payload
            response["ExecutedVersion"] = result.executed_version
            if result.function_error:
                response["FunctionError"] = result.function_error
        return response

    async def close(self) -> None:
        pass


class PeerInvoker(_Invoker):
    """The Invoker of another process, through a client made when first used."""

    def __init__(
        self, address: Callable[[], str], keys: Keys | Literal[False], tls: Tls | None
    ) -> None:
        self._address = address
        self._keys = keys
        self._tls = tls
        self._client: AsyncClient | None = None

    async def _invoke(
        self, function_name: str, payload: bytes, invocation_type: str, lineage: Lineage | None
    ) -> Mapping[str, Any]:
        if self._client is None:
            self._client = AsyncClient(self._address(), credentials=self._keys, tls=self._tls)
        params = {
            "FunctionName": function_name,
            "Payload": payload,
            "InvocationType": invocation_type,
        }
        # In metadata, which the Invoker takes from the suite's own credentials alone.
        metadata = [(LINEAGE_METADATA, lineage.encode())] if lineage else []
        return await self._client.call("Invoke", params, metadata)  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


# Follow-up request ids are derived from the record, so that a settle repeated after a crash
# queues the same follow-up again, which the queue skips.
_FOLLOW_UPS = uuid.UUID("5f3c1f53-52a4-4a8e-9d6b-0c5a3b1f2e7d").bytes


def follow_up_id(record: ExecutionRecord, target: str, kind: str) -> str:
    """The request id of the event that delivers ``record`` to the function ``target``: the
    version 5 UUID of ``<request id>/<kind>/<target>``, built here at less than half the cost
    of ``uuid.uuid5`` (one per record sent to a function)."""
    name = f"{record.request_id}/{kind}/{target}".encode()
    return uuid_text(int.from_bytes(hashlib.sha1(_FOLLOW_UPS + name).digest()[:16]), version=5)


class LocalFunctionRoutes:
    """Records bound for a function of this suite, queued as its event when the record settles.

    This is what the ``lambda`` adapter does through the Router (an Event invoke of the target
    with the record as payload), done when the record settles instead: the target's event is
    checked and built first, then committed in the transaction that acks the source event, with
    no outbox row, lease or delivery round trip. A record the adapter would fail to deliver
    (the function is gone, the record is over the Event limit), a target claimed by another
    adapter, or one the adapter sends to a remote Lambda goes through the Router as before,
    which reports the failure.
    """

    def __init__(self, destinations: Destinations, functions: Functions) -> None:
        self.destinations = destinations
        self.functions = functions

    async def event_for(
        self, target: str, kind: str, record: ExecutionRecord
    ) -> QueuedEvent | None:
        """The target's event for this record, or None when the Router must deliver it."""
        if kind == DEAD_LETTER:
            return None
        name = self.destinations.claimant(target, kind)
        adapter = self.destinations.by_name.get(name) if name else None
        if not isinstance(adapter, LambdaDestination) or not adapter.is_ours(target):
            return None
        try:
            return await prepare_event(
                self.functions,
                target,
                record.to_json_bytes(),
                request_id=follow_up_id(record, target, kind),
                # The next invocation of the record's chain (recursive loop detection).
                lineage=record.next_lineage,
                traceparent=record.traceparent,  # its attempts continue the record's trace
            )
        except LambdaError:
            return None  # the adapter will meet the same error and report it
        except Exception:  # e.g. the store could not be read: the Router retries it
            log.warning("local_route_failed", target=target, exc_info=True)
            return None
