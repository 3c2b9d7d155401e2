"""AWS Lambda's exceptions, as domain errors.

Each class name is the AWS exception name; it travels as ``google.rpc.ErrorInfo.reason`` and comes
back on the client as the exception of the same name. Messages are AWS's, word for word where
they are known (docs/aws-behaviour.md §1.4).
"""

from __future__ import annotations

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
    """An error a caller should see, with AWS's name, message and HTTP status."""

    http_status = 500

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.message = message
        self.metadata = metadata

    @property
    def code(self) -> str:
        return type(self).__name__


class ResourceNotFoundException(LambdaError):
    http_status = 404


class InvalidParameterValueException(LambdaError):
    http_status = 400


class ValidationException(LambdaError):
    http_status = 400


class InvalidRequestContentException(LambdaError):
    http_status = 400


class RequestEntityTooLargeException(LambdaError):
    http_status = 413


class ResourceConflictException(LambdaError):
    http_status = 409


class PreconditionFailedException(LambdaError):
    http_status = 412


class TooManyRequestsException(LambdaError):
    http_status = 429


class ServiceUnavailableException(LambdaError):
    """The service cannot take the request now (its database is unreachable): try again. Not
    an AWS Lambda exception; what AWS services answer with 503."""

    http_status = 503


# TooManyRequestsException's ``Reason`` values for concurrency (docs/aws-behaviour.md §1.4).
RESERVED_CONCURRENCY_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_CONCURRENCY_EXCEEDED = "ConcurrentInvocationLimitExceeded"


def rate_exceeded(reason: str, retry_after: int | None = None) -> TooManyRequestsException:
    """AWS's throttle: "Rate Exceeded." with its Reason (and a Retry-After hint in seconds)."""
    metadata = {"Reason": reason}
    if retry_after is not None:
        metadata["retryAfterSeconds"] = str(retry_after)
    return TooManyRequestsException("Rate Exceeded.", **metadata)


class ServiceException(LambdaError):
    http_status = 500


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
