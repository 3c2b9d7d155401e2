"""AWS Lambda's exceptions, as domain errors.

Each class name is the AWS exception name, and its entry in the table of errors
(``eventinvoke.api.errors``) says how it travels: as ``google.rpc.ErrorInfo.reason`` with the
HTTP status and gRPC code listed there, back on the client as the exception of the same name.
Messages are AWS's, word for word where they are known (docs/aws-behaviour.md §1.4).
"""

from __future__ import annotations

from eventinvoke.api.errors import ERRORS

# What a message may cost on the wire. Messages quote what callers sent (a name, an ARN, a value
# that broke a constraint); hostile input must not make an error too large to cross it: gRPC
# carries the message twice in trailers that clients cap at 8 KiB (percent-encoded in
# grpc-message, where a byte outside printable ASCII takes three; base64-encoded in the status
# details), and a client sent more sees only "Stream removed". 6 KiB leaves room for the rest.
MAX_MESSAGE_COST = 6144


def _cost(data: bytes) -> int:
    escaped = sum(1 for byte in data if byte < 0x20 or byte > 0x7E or byte == 0x25)
    return len(data) + 2 * escaped + (len(data) + 2) // 3 * 4


def bounded(message: str, limit: int = MAX_MESSAGE_COST) -> str:
    """``message`` whole when it fits in an error's trailers, else cut (at a character) until
    it does and marked with "..."; always valid UTF-8 (a lone surrogate becomes "?")."""
    data = message.encode("utf-8", "replace")
    if len(data) <= limit // 2 and _cost(data) <= limit:
        return data.decode("utf-8")
    data = data[: limit // 2]  # costs at least twice its length: never more than this fits
    low, high = 0, len(data)  # the longest prefix that fits, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if _cost(data[:middle]) + 8 <= limit:
            low = middle
        else:
            high = middle - 1
    return data[:low].decode("utf-8", "ignore") + "..."


class LambdaError(Exception):
    """An error a caller should see, with AWS's name and message; how it travels (its HTTP
    status, its gRPC code) is its name's entry in the table of errors."""

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata

    @property
    def code(self) -> str:
        return type(self).__name__

    @property
    def http_status(self) -> int:
        shape = ERRORS.get(self.code)
        return shape.status if shape is not None else 500


class ResourceNotFoundException(LambdaError):
    pass


class InvalidParameterValueException(LambdaError):
    pass


class ValidationException(LambdaError):
    pass


class InvalidRequestContentException(LambdaError):
    pass


class RequestEntityTooLargeException(LambdaError):
    pass


class ResourceConflictException(LambdaError):
    pass


class PreconditionFailedException(LambdaError):
    pass


class TooManyRequestsException(LambdaError):
    pass


class ServiceUnavailableException(LambdaError):
    pass


class ServiceException(LambdaError):
    pass


# TooManyRequestsException's ``Reason`` values for concurrency (docs/aws-behaviour.md §1.4).
RESERVED_CONCURRENCY_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_CONCURRENCY_EXCEEDED = "ConcurrentInvocationLimitExceeded"


def rate_exceeded(reason: str, retry_after: int | None = None) -> TooManyRequestsException:
    """AWS's throttle: "Rate Exceeded." with its Reason (and a Retry-After hint in seconds)."""
    metadata = {"Reason": reason}
    if retry_after is not None:
        metadata["retryAfterSeconds"] = str(retry_after)
    return TooManyRequestsException("Rate Exceeded.", **metadata)


class Validation:
    """Collects constraint violations into AWS's ``ValidationException`` message.

    AWS reports every failed constraint of a request at once:
    ``2 validation errors detected: Value '3' at 'maximumRetryAttempts' failed to satisfy
    constraint: ...; Value ...``.
    """

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, value: object, field: str, constraint: str) -> None:
        self.errors.append(
            f"Value '{value}' at '{field}' failed to satisfy constraint: {constraint}"
        )

    def at_most(self, value: int | None, field: str, limit: int) -> None:
        if value is not None and value > limit:
            self.fail(value, field, f"Member must have value less than or equal to {limit}")

    def at_least(self, value: int | None, field: str, limit: int) -> None:
        if value is not None and value < limit:
            self.fail(value, field, f"Member must have value greater than or equal to {limit}")

    def raise_if_any(self) -> None:
        if self.errors:
            n = len(self.errors)
            noun = "validation error" if n == 1 else "validation errors"
            raise ValidationException(f"{n} {noun} detected: " + "; ".join(self.errors))
