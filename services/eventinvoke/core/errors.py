"""AWS Lambda's exceptions, as domain errors.

Each class name is the AWS exception name; it travels as ``google.rpc.ErrorInfo.reason`` and comes
back on the client as the exception of the same name. Messages are AWS's, word for word where
they are known (docs/aws-behaviour.md §1.4).
"""

from __future__ import annotations


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
