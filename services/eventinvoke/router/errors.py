"""The errors a destination adapter raises; the Router retries or gives up by their type.

Re-exported by ``eventinvoke.router.plugin``, where adapter authors import them.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery failed. Adapters raise one of the two subclasses."""


class RetryableDeliveryError(DeliveryError):
    """The delivery may succeed later: it is retried with capped, jittered backoff, up to the
    Router's ``delivery_max_attempts``.

    ``retry_after`` (seconds, e.g. from an HTTP ``Retry-After`` header) asks the Router to wait at
    least that long before the next attempt. It is the target's wish, so it is not scaled by
    ``time_scale``. ``until`` (epoch seconds) asks it to keep trying past the attempts until
    then: for a target that is part of the suite and only briefly away (a restarting Invoker).
    """

    def __init__(
        self, message: str = "", *, retry_after: float | None = None, until: float | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.until = until


class PermanentDeliveryError(DeliveryError):
    """The delivery will never succeed: the record goes to the failed-delivery store at once."""
