"""A typed Python client for eventinvoke, named and shaped like boto3's lambda client.

    from eventinvoke.client import Client, ResourceNotFoundException

    with Client("127.0.0.1:50051") as client:
        client.invoke("my-fn", b'{"k": 1}', invocation_type="Event")  # {"StatusCode": 202, ...}

:class:`AsyncClient` has the same methods as coroutines. Every method returns the dict boto3
would return; service errors raise the exception named after AWS's (``errors``). Calls are
signed with AWS credentials when there are some: ``credentials=(key_id, secret)``, else the
AWS CLI's (``AWS_ACCESS_KEY_ID``..., ``AWS_PROFILE``, the shared files; ``signing``).
"""

from eventinvoke.client._aio import AsyncClient
from eventinvoke.client._sync import Client
from eventinvoke.client._transport import DEFAULT_ENDPOINT, Tls
from eventinvoke.client.errors import (
    AccessDeniedException,
    EndpointConnectionError,
    EventInvokeError,
    IncompleteSignatureException,
    InvalidParameterValueException,
    InvalidRequestContentException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    ParamValidationError,
    PreconditionFailedException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    ServiceError,
    ServiceException,
    TooManyRequestsException,
    UnrecognizedClientException,
    ValidationException,
)
from eventinvoke.client.signing import Keys

__all__ = [
    "DEFAULT_ENDPOINT",
    "AccessDeniedException",
    "AsyncClient",
    "Client",
    "EndpointConnectionError",
    "EventInvokeError",
    "InvalidParameterValueException",
    "IncompleteSignatureException",
    "InvalidRequestContentException",
    "InvalidSignatureException",
    "Keys",
    "MissingAuthenticationTokenException",
    "ParamValidationError",
    "PreconditionFailedException",
    "RequestEntityTooLargeException",
    "ResourceConflictException",
    "ResourceNotFoundException",
    "ServiceError",
    "ServiceException",
    "Tls",
    "TooManyRequestsException",
    "UnrecognizedClientException",
    "ValidationException",
]
