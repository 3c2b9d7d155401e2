"""THE table of errors: every exception eventinvoke answers with, described once.

An error travels as AWS's exception name: over gRPC as a status of the code named here, whose
``google.rpc.ErrorInfo`` carries the name and the HTTP status; over HTTP as the gateway renders it
(the status, ``X-Amzn-ErrorType: <name>`` and a JSON body whose message key changes case from one
exception to another, exactly as in botocore's lambda model: docs/aws-behaviour.md §1.4). The
services' domain errors, their gRPC statuses, the client's exceptions and the gateway's responses
all read this table; a test checks it against botocore's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# ErrorInfo.domain of every error eventinvoke sends.
ERROR_DOMAIN = "lambda.eventinvoke"
Fault = Literal["User", "Service"]


@dataclass(frozen=True)
class ErrorShape:
    """How one exception travels."""

    status: int  # the HTTP status
    grpc: str  # the name of the gRPC status code (grpc.StatusCode.<grpc>)
    message_key: str = "message"  # "Message" or "message", as AWS spells it for this exception
    type: Fault = "User"  # "Service" for AWS's own faults
    aws: bool = True  # False: eventinvoke's own, which AWS Lambda never answers with


# AWS exception name -> how it travels. From botocore's lambda/2015-03-31 model, except where
# noted.
ERRORS: dict[str, ErrorShape] = {
    "ResourceNotFoundException": ErrorShape(404, "NOT_FOUND", "Message"),
    "InvalidParameterValueException": ErrorShape(400, "INVALID_ARGUMENT"),
    "InvalidRequestContentException": ErrorShape(400, "INVALID_ARGUMENT"),
    "RequestTooLargeException": ErrorShape(413, "RESOURCE_EXHAUSTED"),
    "UnsupportedMediaTypeException": ErrorShape(415, "INVALID_ARGUMENT"),
    "ResourceConflictException": ErrorShape(409, "ALREADY_EXISTS"),
    "PreconditionFailedException": ErrorShape(412, "FAILED_PRECONDITION"),
    "TooManyRequestsException": ErrorShape(429, "RESOURCE_EXHAUSTED"),
    "ResourceNotReadyException": ErrorShape(502, "UNAVAILABLE", type="Service"),
    "ServiceException": ErrorShape(500, "INTERNAL", "Message", "Service"),
    # Not in the model: AWS's request-validation layer sends these
    # (docs/aws-behaviour.md §1.3, §1.4).
    "ValidationException": ErrorShape(400, "INVALID_ARGUMENT"),
    "RequestEntityTooLargeException": ErrorShape(413, "RESOURCE_EXHAUSTED"),
    # The gateway's own: a path no operation serves.
    "UnknownOperationException": ErrorShape(404, "UNIMPLEMENTED"),
    # AWS's authentication layer, in front of every service (not in Lambda's model).
    "MissingAuthenticationTokenException": ErrorShape(403, "UNAUTHENTICATED"),
    "UnrecognizedClientException": ErrorShape(403, "UNAUTHENTICATED"),
    "InvalidSignatureException": ErrorShape(403, "UNAUTHENTICATED"),
    "IncompleteSignatureException": ErrorShape(403, "UNAUTHENTICATED"),
    "AccessDeniedException": ErrorShape(403, "PERMISSION_DENIED", "Message"),
    # The service cannot take the request now (its database is unreachable): try again. What
    # AWS services answer with 503; AWS Lambda has no such exception.
    "ServiceUnavailableException": ErrorShape(503, "UNAVAILABLE", type="Service", aws=False),
}
