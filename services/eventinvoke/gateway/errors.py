"""An error as the Lambda REST API's error response, as the table of errors says.

An error reaches the gateway as the client's typed exception (the Invoker's ``ErrorInfo``: AWS's
exception name, message and HTTP status) or is raised by the gateway itself through
:func:`gateway_error`, and leaves as AWS sends it: the status, ``X-Amzn-ErrorType: <name>`` and a
JSON body ``{"Type": "User", "Message": ...}``, whose message key changes case from one exception
to another (``eventinvoke.api.errors``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from eventinvoke.api import errors as table
from eventinvoke.api.errors import ErrorShape, Fault
from eventinvoke.client import errors
from eventinvoke.core.errors import bounded

# AWS exception name -> its HTTP rendering: the table of errors' AWS exceptions (eventinvoke's
# own, like ServiceUnavailableException, keep the status the Invoker sent).
ERRORS: dict[str, ErrorShape] = {name: shape for name, shape in table.ERRORS.items() if shape.aws}

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
            # An exception the table does not list as AWS's: keep the Invoker's status.
            fault: Fault = "User" if error.http_status < 500 else "Service"
            shape = ErrorShape(error.http_status, "UNKNOWN", type=fault)
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
        code, shape = "ServiceException", ErrorShape(502, "UNAVAILABLE", "Message", "Service")
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
