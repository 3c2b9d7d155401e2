"""A typed Python client for eventinvoke, named and shaped like boto3's lambda client.

    from eventinvoke.client import Client, ResourceNotFoundException

    with Client("127.0.0.1:50051") as client:
        client.invoke("my-fn", b'{"k": 1}', invocation_type="Event")  # {"StatusCode": 202, ...}

:class:`AsyncClient` has the same methods as coroutines. Every method returns the dict boto3
would return; service errors raise the exception named after AWS's (``errors``).
"""

from eventinvoke.client._aio import AsyncClient
from eventinvoke.client._sync import Client
from eventinvoke.client._transport import DEFAULT_ENDPOINT
from eventinvoke.client.errors import (
    EndpointConnectionError,
    EventInvokeError,
    InvalidParameterValueException,
    InvalidRequestContentException,
    ParamValidationError,
    PreconditionFailedException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceError,
    ServiceException,
    TooManyRequestsException,
    ValidationException,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "AsyncClient",
    "Client",
    "EndpointConnectionError",
    "EventInvokeError",
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "ParamValidationError",
    "PreconditionFailedException",
    "RequestEntityTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "ServiceError",
    "ServiceException",
    "TooManyRequestsException",
    "ValidationException",
]
