"""AWS plumbing shared by the AWS destination adapters (sqs, sns, eventbridge, s3, lambda).

Private: no entry point, no hooks. It holds three things:

* ``AwsClients``: one aiobotocore session per adapter and one client per (region, endpoint),
  made on first use and reused until ``close()``. Configuration is the SDK's own: ``AWS_REGION``,
  ``AWS_ENDPOINT_URL`` and the per-service ``AWS_ENDPOINT_URL_SQS`` (``_SNS``, ``_EVENTBRIDGE``,
  ``_S3``, ``_LAMBDA``), ``AWS_MAX_ATTEMPTS`` / ``AWS_RETRY_MODE``, ``AWS_PROFILE`` and the
  standard credentials chain. The adapter's ``[destinations.<name>]`` table may override
  ``endpoint_url``, ``region_name`` (where the target's ARN names none: S3), ``profile``,
  ``max_pool_connections`` (default 64, the Router's delivery concurrency),
  ``connect_timeout`` / ``read_timeout`` (seconds) and ``max_attempts`` (the SDK's own retries
  within one delivery attempt).
* ``classify``: a failed AWS call becomes ``RetryableDeliveryError`` (throttling, 5xx, dropped
  connections, timeouts) or ``PermanentDeliveryError`` (any other 4xx: a missing target, access
  denied, a payload the target refuses; and missing credentials or region).
* ``dead_letter_message``: what a dead-letter queue receives (docs/aws-behaviour.md §5.2): the
  original event, unchanged, with the ``RequestID``, ``ErrorCode`` and ``ErrorMessage``
  attributes. SQS and SNS take the same attribute shape.

Why aiobotocore and not boto3 on a thread pool: the Router delivers on one asyncio loop with up
to 64 deliveries in flight. aiobotocore runs botocore's request pipeline on aiohttp, so each
delivery is a coroutine on that loop sharing one connection pool per client: no thread hops, no
pool to size against the delivery concurrency, and cancellation at shutdown just works.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventinvoke.router.plugin import (
    DeliveryError,
    ExecutionRecord,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

if TYPE_CHECKING:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import AioSession

# aiobotocore and botocore are imported where a client is first made, not here: they take about
# 27 MB, which a suite that never delivers to AWS should not carry (the Router loads every
# adapter at start).

# --------------------------------------------------------------------------------------------
# ARNs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arn:
    """``arn:partition:service:region:account:resource`` (the resource may hold more colons)."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @staticmethod
    @functools.lru_cache(maxsize=4096)
    def parse(target: str) -> Arn | None:
        # Cached: every adapter's claims() parses the target again, before every delivery.
        parts = target.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or not parts[2]:
            return None
        return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


# --------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------

DEFAULT_MAX_POOL_CONNECTIONS = 64  # the Router's delivery concurrency


# The keys of an AWS adapter's [destinations.<name>] table, all read by AwsClients.
AWS_SETTINGS = (
    "endpoint_url",
    "region_name",
    "profile",
    "max_pool_connections",
    "connect_timeout",
    "read_timeout",
    "max_attempts",
)


class AwsClients:
    """aiobotocore clients for one service, one per (region, endpoint), made lazily, reused."""

    def __init__(
        self,
        service: str,
        settings: Mapping[str, Any],
        fallback_region: str,
        endpoint_url: str | None = None,
    ) -> None:
        self.service = service
        self.settings = settings
        self.fallback_region = fallback_region
        self.endpoint_url = endpoint_url or settings.get("endpoint_url") or None
        self._session: AioSession | None = None
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    def _config(self) -> AioConfig:
        from aiobotocore.config import AioConfig

        options: dict[str, Any] = {
            "max_pool_connections": int(
                self.settings.get("max_pool_connections", DEFAULT_MAX_POOL_CONNECTIONS)
            ),
            # Botocore loads its JSON service models from disk once per client; do it on a
            # thread, not on the Router's loop.
            "warm_up_loader_caches": True,
        }
        for key in ("connect_timeout", "read_timeout"):
            if key in self.settings:
                options[key] = float(self.settings[key])
        if "max_attempts" in self.settings:  # otherwise AWS_MAX_ATTEMPTS / the SDK default
            options["retries"] = {"total_max_attempts": int(self.settings["max_attempts"])}
        return AioConfig(**options)

    def default_region(self) -> str:
        """The adapter's ``region_name``, else the SDK's (``AWS_REGION``...), else the Router's."""
        configured = self.settings.get("region_name")
        if configured:
            return str(configured)
        session = self._get_session()
        return str(session.get_config_variable("region") or self.fallback_region)

    def _get_session(self) -> AioSession:
        if self._session is None:
            from aiobotocore.session import AioSession, get_session

            profile = self.settings.get("profile")
            self._session = AioSession(profile=profile) if profile else get_session()
        return self._session

    async def get(self, region: str | None = None) -> Any:
        """The client for ``region`` (the adapter's default region when ``None``)."""
        region = region or self.default_region()
        client = self._clients.get(region)
        if client is not None:
            return client
        async with self._lock:
            client = self._clients.get(region)
            if client is None:
                creator = self._get_session().create_client(
                    self.service,
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=self._config(),
                )
                client = await self._stack.enter_async_context(creator)
                self._clients[region] = client
        return client

    async def close(self) -> None:
        self._clients.clear()
        await self._stack.aclose()
        self._stack = contextlib.AsyncExitStack()


# --------------------------------------------------------------------------------------------
# Failures
# --------------------------------------------------------------------------------------------

# Error codes that pass with time, whatever their HTTP status (botocore's retry handler's lists,
# plus the services' own throttling codes).
RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "RequestThrottled",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KMSThrottlingException",
        "KMS.ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "IDPCommunicationError",
        "ResourceConflictException",  # Lambda: the function is being updated
        "ResourceNotReadyException",
    }
)


def is_retryable(code: str, status: int | None) -> bool:
    """Throttling and server-side failures pass with time; any other 4xx will not."""
    if code in RETRYABLE_CODES or "Throttl" in code:
        return True
    if status is None:
        return True
    return status == 429 or status >= 500


def failure(target: str, code: str, message: str, status: int | None) -> DeliveryError:
    """A classified delivery error whose message names the target and AWS's error code."""
    text = f"{target}: {code}: {message}" if message else f"{target}: {code}"
    if is_retryable(code, status):
        return RetryableDeliveryError(text)
    return PermanentDeliveryError(text)


def classify(target: str, error: BaseException) -> DeliveryError:
    """The delivery error for an exception raised by an AWS call to ``target``."""
    if isinstance(error, DeliveryError):
        return error
    # Imported here: an error from an AWS call comes after botocore was loaded to make it.
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        UnknownServiceError,
    )

    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return failure(
            target,
            str(details.get("Code") or "Unknown"),
            str(details.get("Message") or ""),
            int(status) if status else None,
        )
    text = f"{target}: {type(error).__name__}: {error}"
    # Client-side errors that no retry will fix: the Router's AWS configuration is incomplete.
    if isinstance(
        error,
        NoCredentialsError
        | PartialCredentialsError
        | NoRegionError
        | ParamValidationError
        | UnknownServiceError,
    ):
        return PermanentDeliveryError(text)
    # Connection errors and timeouts (BotoCoreError, OSError, aiohttp's), or anything else
    # unexpected: may pass, and the Router's attempt limit bounds it.
    return RetryableDeliveryError(text)


# --------------------------------------------------------------------------------------------
# Dead-letter messages (docs/aws-behaviour.md §5.2)
# --------------------------------------------------------------------------------------------

ERROR_MESSAGE_LIMIT = 1024  # bytes: "the first 1 KB of the error message"


@dataclass(frozen=True)
class Message:
    """A message body and its attributes, in the shape SQS and SNS both accept."""

    body: str
    attributes: dict[str, dict[str, str]]
    # SQS's AWSTraceHeader system attribute (X-Ray's form), "" for none. Not counted against
    # the size limits: SQS does not count system attributes.
    trace_header: str = ""

    @property
    def size(self) -> int:
        """Bytes counted against SQS's and SNS's limits: the body plus every attribute's name,
        type and value."""
        total = len(self.body.encode())
        for name, value in self.attributes.items():
            total += len(name.encode()) + len(value["DataType"].encode())
            total += len(value["StringValue"].encode())
        return total


def first_bytes(text: str, limit: int) -> str:
    """At most ``limit`` bytes of ``text`` in UTF-8, never splitting a character."""
    return text.encode()[:limit].decode("utf-8", "ignore")


def dead_letter_message(target: str, record: ExecutionRecord) -> Message:
    """The original event, byte for byte, with ``RequestID``, ``ErrorCode`` and ``ErrorMessage``.

    ``ErrorCode`` is the status the sync Invoke would have returned (200 for function errors).
    ``ErrorMessage`` is the first 1 KB of the error's ``errorMessage``; when there is none (the
    function never ran, e.g. ``ZeroReservedConcurrency``) it is the record's condition, since SQS
    and SNS refuse empty attribute values.
    """
    try:
        body = record.request_payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PermanentDeliveryError(f"{target}: the event is not UTF-8 text: {error}") from error
    message = first_bytes(record.error_message, ERROR_MESSAGE_LIMIT) or record.condition
    return Message(
        body=body,
        attributes={
            "RequestID": {"DataType": "String", "StringValue": record.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": str(record.status_code)},
            "ErrorMessage": {"DataType": "String", "StringValue": message},
        },
    )
