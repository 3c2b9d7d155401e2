"""The one table that turns an error into the Lambda REST API's error response.

An error reaches the gateway as the client's typed exception (the Invoker's ``ErrorInfo``: AWS's
exception name, message and HTTP status) or is raised by the gateway itself through
:func:`gateway_error`, and leaves as AWS sends it: the status, ``X-Amzn-ErrorType: <name>`` and a
JSON body ``{"Type": "User", "Message": ...}``. The message key changes case from one exception
to another, exactly as in botocore's lambda model (docs/aws-behaviour.md §1.4); a test checks this
table against the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from eventinvoke.client import errors
from eventinvoke.core.errors import bounded


@dataclass(frozen=True)
class ErrorShape:
    """How AWS renders one exception."""

    status: int
    message_key: str  # "Message" or "message", as AWS spells it for this exception
    type: str = "User"  # "Service" for AWS's own faults


# AWS exception name -> its HTTP rendering. From botocore's lambda/2015-03-31 model, except
# where noted.
ERRORS: dict[str, ErrorShape] = {
    "ResourceNotFoundException": ErrorShape(404, "Message"),
    "InvalidParameterValueException": ErrorShape(400, "message"),
    "InvalidRequestContentException": ErrorShape(400, "message"),
    "RequestTooLargeException": ErrorShape(413, "message"),
    "UnsupportedMediaTypeException": ErrorShape(415, "message"),
    "ResourceConflictException": ErrorShape(409, "message"),
    "PreconditionFailedException": ErrorShape(412, "message"),
    "TooManyRequestsException": ErrorShape(429, "message"),
    "ResourceNotReadyException": ErrorShape(502, "message", "Service"),
    "ServiceException": ErrorShape(500, "Message", "Service"),
    # Not in the model: AWS's request-validation layer sends these
    # (docs/aws-behaviour.md §1.3, §1.4).
    "ValidationException": ErrorShape(400, "message"),
    "RequestEntityTooLargeException": ErrorShape(413, "message"),
    # The gateway's own: a path no operation serves.
    "UnknownOperationException": ErrorShape(404, "message"),
    # AWS's authentication layer, in front of every service (not in Lambda's model).
    "MissingAuthenticationTokenException": ErrorShape(403, "message"),
    "UnrecognizedClientException": ErrorShape(403, "message"),
    "InvalidSignatureException": ErrorShape(403, "message"),
    "IncompleteSignatureException": ErrorShape(403, "message"),
    "AccessDeniedException": ErrorShape(403, "Message"),
}

INTERNAL_ERROR = "An internal error occurred. See the server log."


def gateway_error(code: str, message: str) -> errors.ServiceError:
    """An error the gateway raises itself, rendered through the same table."""
    return errors.service_error(code, message, ERRORS[code].status)


def error_response(error: BaseException, request_id: str) -> web.Response:
    """The HTTP response for any exception a handler let escape; never a traceback."""
    extra: dict[str, Any] = {}
    headers = {"x-amzn-RequestId": request_id}
    if isinstance(error, errors.ServiceError):
        code, message = error.code, error.message
        shape = ERRORS.get(code)
        if shape is None and code.endswith("Exception"):
            # An AWS exception this table does not list yet: keep the Invoker's status.
            type_ = "User" if error.http_status < 500 else "Service"
            shape = ErrorShape(error.http_status, "message", type_)
        elif shape is None:  # a bare gRPC status: not an AWS error, so ours
            code, message, shape = "ServiceException", INTERNAL_ERROR, ERRORS["ServiceException"]
        if code == "TooManyRequestsException":
            reason = error.metadata.get("Reason") or error.metadata.get("reason")
            if reason:
                extra["Reason"] = reason
        retry_after = error.metadata.get("retryAfterSeconds")  # 429s, and 503s
        if retry_after:
            headers["Retry-After"] = retry_after
    elif isinstance(error, errors.EndpointConnectionError):
        # The Invoker did not answer: AWS's fault from the caller's view, and retryable.
        code, shape = "ServiceException", ErrorShape(502, "Message", "Service")
        message = "The Invoker is unavailable. Try again later."
    else:
        code, message, shape = "ServiceException", INTERNAL_ERROR, ERRORS["ServiceException"]
    headers["X-Amzn-ErrorType"] = code
    body = {"Type": shape.type, shape.message_key: bounded(message), **extra}
    return web.Response(
        status=shape.status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )
