"""The ``lambda`` destination: the record becomes the event of an asynchronous invocation of the
target function, so the target's own retries and destinations apply (spec §4.2)."""

from __future__ import annotations

from eventinvoke.client import errors
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    Delivery,
    PermanentDeliveryError,
    RetryableDeliveryError,
    RouterContext,
    hookimpl,
)

# Errors that will not pass on a retry: the target is gone or refuses the payload.
PERMANENT = (
    errors.ResourceNotFoundException,
    errors.InvalidParameterValueException,
    errors.InvalidRequestContentException,
    errors.RequestEntityTooLargeException,
    errors.ValidationException,
)


class LambdaDestination:
    name = "lambda"

    def __init__(self, context: RouterContext) -> None:
        self.context = context

    def claims(self, target: str) -> bool:
        parts = target.split(":")
        return (
            len(parts) >= 7
            and parts[0] == "arn"
            and parts[2] == "lambda"
            and parts[5] == "function"
        )

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.kind == DEAD_LETTER:
            raise PermanentDeliveryError("a function cannot be a dead-letter queue")
        try:
            await self.context.invoker.invoke(
                function_name=delivery.target,
                payload=delivery.record.to_json().encode(),
                invocation_type="Event",
            )
        except PERMANENT as error:
            raise PermanentDeliveryError(f"{error.code}: {error}") from error
        except errors.EventInvokeError as error:  # throttled, unavailable, internal: may pass
            raise RetryableDeliveryError(str(error)) from error

    async def close(self) -> None:
        pass


@hookimpl
def register_destinations(register, context: RouterContext) -> None:  # type: ignore[no-untyped-def]
    register(LambdaDestination(context))
