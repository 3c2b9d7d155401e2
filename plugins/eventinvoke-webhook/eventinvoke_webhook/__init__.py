"""The ``webhook`` destination: POSTs each execution record to an ``http://`` or ``https://`` URL.

Configured by the ``[destinations.webhook]`` table: ``secret_env`` names the environment variable
holding the HMAC-SHA256 signing secret (the secret is never stored in configuration), ``timeout``
is the per-request timeout in seconds (default 10).

Every connection goes through the Router's ``OutboundGuard`` (``context.outbound``): a URL that
resolves only to loopback, private, link-local or metadata addresses fails the delivery for good,
unless the server's ``destination_allow_networks`` admits them. Redirects are not followed (a
3xx fails the delivery): a receiver that moved is reconfigured, not chased.

With tracing on (``OTEL_EXPORTER_OTLP_ENDPOINT``), each POST carries the delivery's trace context
in a W3C ``traceparent`` header.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import math
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

import aiohttp

from eventinvoke.router.plugin import (
    DEAD_LETTER,
    Delivery,
    DestinationAdapter,
    OutboundGuard,
    PermanentDeliveryError,
    RetryableDeliveryError,
    RouterContext,
    hookimpl,
    traceparent,
)

NAME = "webhook"
SCHEMES = ("http://", "https://")
SIGNATURE_HEADER = "X-Eventinvoke-Signature"
DELIVERY_HEADER = "X-Eventinvoke-Delivery-Id"
TRACEPARENT_HEADER = "traceparent"  # W3C Trace Context, with tracing on
DEFAULT_TIMEOUT = 10.0
EXCERPT = 200  # characters of a refusing response's body kept in the failure reason


class WebhookDestination:
    """POSTs ``delivery.record.to_json()``; 2xx delivers, 429/5xx retry, other statuses fail."""

    name = NAME

    def __init__(self, settings: Mapping[str, Any], outbound: OutboundGuard | None = None) -> None:
        self.secret_env: str | None = settings.get("secret_env") or None
        self.timeout = float(settings.get("timeout", DEFAULT_TIMEOUT))
        self.outbound = outbound or OutboundGuard()
        self._session: aiohttp.ClientSession | None = None

    def claims(self, target: str) -> bool:
        return target.startswith(SCHEMES)

    async def deliver(self, delivery: Delivery) -> None:
        if delivery.kind == DEAD_LETTER:
            raise PermanentDeliveryError("a webhook receives records, not dead-letter events")
        body = delivery.record.to_json().encode()
        headers = {"Content-Type": "application/json", DELIVERY_HEADER: delivery.delivery_id}
        trace = traceparent()  # the delivery's span: the receiver's spans join the trace
        if trace:
            headers[TRACEPARENT_HEADER] = trace
        secret = self._secret()
        if secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(secret, body)
        try:
            async with self._client().post(
                delivery.target, data=body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return
                excerpt = _excerpt(await response.read())
                wait = retry_after(response.headers.get("Retry-After"))
                location = response.headers.get("Location")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RetryableDeliveryError(f"{type(error).__name__}: {error}") from error
        if 300 <= response.status < 400 and location:
            excerpt = f"a redirect to {_excerpt(location.encode())}, not followed"
        reason = f"HTTP {response.status}: {excerpt}" if excerpt else f"HTTP {response.status}"
        if response.status == 429 or response.status >= 500:
            raise RetryableDeliveryError(reason, retry_after=wait)
        raise PermanentDeliveryError(reason)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        """One session per adapter, made on first use (on the Router's running loop)."""
        if self._session is None:
            self._session = self.outbound.session(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self._session

    def _secret(self) -> bytes | None:
        if self.secret_env is None:
            return None
        secret = os.environ.get(self.secret_env)
        if not secret:
            # Refuse rather than send unsigned records to a receiver that expects signatures.
            raise PermanentDeliveryError(
                f"the signing secret's environment variable {self.secret_env} is not set"
            )
        return secret.encode()


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``body``: the ``X-Eventinvoke-Signature`` value after ``sha256=``."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _excerpt(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return text if len(text) <= EXCERPT else text[:EXCERPT] + "…"


@hookimpl
def register_destinations(
    register: Callable[[DestinationAdapter], None], context: RouterContext
) -> None:
    register(
        WebhookDestination(context.settings_for(NAME, ("secret_env", "timeout")), context.outbound)
    )
