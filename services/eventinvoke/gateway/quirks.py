"""What the gateway does that the model cannot say: checks of a few operations' members before
the call, and the legacy InvokeAsync, whose limit and answer are its own.

Everything else about a request (where its members are, their types and constraints) comes from
the model, in ``rest.py`` and ``eventinvoke.api.constraints``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from eventinvoke.client import AsyncClient
from eventinvoke.gateway import rest
from eventinvoke.gateway.errors import gateway_error

Check = Callable[[AsyncClient, Mapping[str, Any]], Awaitable[None]]

MAX_INVOKE_ASYNC_BYTES = 262144  # the legacy InvokeAsync's own limit (256 KB)
PRECONDITION_FAILED = (
    "The Revision Id provided does not match the latest Revision Id. Call the "
    "GetFunction/GetAlias API to retrieve the latest Revision Id"
)


def _zip_only(code: Mapping[str, Any]) -> None:
    """Code comes as a zip file in the request: S3 objects and container images are not
    reachable from here. AWS's message when no source is given at all."""
    if any(key in code for key in ("S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri")):
        raise gateway_error(
            "InvalidParameterValueException",
            "Only ZipFile deployment packages are supported (no S3 or container images).",
        )
    if "ZipFile" not in code:
        raise gateway_error(
            "InvalidParameterValueException", "Please provide a source for function code."
        )


async def _function_code(client: AsyncClient, params: Mapping[str, Any]) -> None:
    _zip_only(params.get("Code", {}))


async def _new_code(client: AsyncClient, params: Mapping[str, Any]) -> None:
    _zip_only(params)


async def _one_version(client: AsyncClient, params: Mapping[str, Any]) -> None:
    """Weighted aliases are not supported: a RoutingConfig with weights is refused; an empty one
    (``{}`` or no weights, which AWS reads as "one version") is accepted."""
    if params.get("RoutingConfig", {}).get("AdditionalVersionWeights"):
        raise gateway_error(
            "InvalidParameterValueException",
            "RoutingConfig (weighted aliases) is not supported by eventinvoke: an alias points "
            "at exactly one version.",
        )


async def _same_revision(client: AsyncClient, params: Mapping[str, Any]) -> None:
    """Optimistic locking, as AWS: the alias must still be the one the caller read. (A change
    between this read and the update is not caught.)"""
    if "RevisionId" in params:
        current = await client.get_alias(params["FunctionName"], params["Name"])
        if current["RevisionId"] != params["RevisionId"]:
            raise gateway_error("PreconditionFailedException", PRECONDITION_FAILED)


CHECKS: dict[str, tuple[Check, ...]] = {
    "CreateFunction": (_function_code,),
    "UpdateFunctionCode": (_new_code,),
    "CreateAlias": (_one_version,),
    "UpdateAlias": (_one_version, _same_revision),
}


async def invoke_async(client: AsyncClient, params: Mapping[str, Any]) -> rest.HttpResponse:
    """The deprecated InvokeAsync: an Event invoke of at most 256 KB, answered
    ``202 {"Status": 202}``."""
    payload = params.get("InvokeArgs", b"")
    if len(payload) > MAX_INVOKE_ASYNC_BYTES:
        raise gateway_error(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {MAX_INVOKE_ASYNC_BYTES} bytes for the InvokeAsync "
            "operation",
        )
    response = await client.invoke(params["FunctionName"], payload, invocation_type="Event")
    return rest.HttpResponse(
        202,
        {
            "x-amzn-RequestId": response["ResponseMetadata"]["RequestId"],
            "Content-Type": "application/json",
        },
        b'{"Status": 202}',
    )


# Operations the gateway answers itself, from their parsed members.
HANDLERS: dict[str, Callable[[AsyncClient, Mapping[str, Any]], Awaitable[rest.HttpResponse]]] = {
    "InvokeAsync": invoke_async,
}
