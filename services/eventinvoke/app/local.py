"""Peers in the same process, reached by a call instead of a gRPC round trip."""

from __future__ import annotations

from typing import Any

from eventinvoke.client import errors
from eventinvoke.core.errors import LambdaError
from eventinvoke.invoker.invocations import Invocations


class LocalInvoker:
    """The Invoker of this process, with the client's face (``RouterContext.invoker`` in ``up``).

    Adapters see the same responses and typed errors as from ``eventinvoke.client.AsyncClient``.
    """

    def __init__(self, invocations: Invocations) -> None:
        self.invocations = invocations

    async def invoke(
        self,
        function_name: str,
        payload: bytes | str = b"",
        invocation_type: str = "RequestResponse",
    ) -> dict[str, Any]:
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            result = await self.invocations.invoke(
                function_name, data, invocation_type=invocation_type
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
