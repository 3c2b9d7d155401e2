"""The five EventInvokeConfig operations, with AWS's checks in AWS's order
(docs/aws-behaviour.md §2)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Protocol

from eventinvoke.api.model import lambda_model
from eventinvoke.backends.base import FunctionStore, resolve_qualifier
from eventinvoke.core.arn import FunctionRef, Partition, parse_function_name
from eventinvoke.core.errors import (
    InvalidParameterValueException,
    LambdaError,
    ResourceNotFoundException,
)
from eventinvoke.core.model import ON_FAILURE, ON_SUCCESS, EventInvokeConfig

# AWS's pattern for a destination (the model's DestinationArn; requests are checked against it
# before they get here, a URI excepted).
DESTINATION_PATTERN: str = lambda_model().shape("DestinationArn")["pattern"]
# A destination given as a URI (https://..., kafka://...): only a plugin delivers there. Its
# scheme, RFC 3986's. No ARN matches (an ARN has no "//" after its first colon).
DESTINATION_URI = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://")
# Services a destination may point at, per outcome (S3 only on failure).
ON_SUCCESS_SERVICES = frozenset({"sqs", "sns", "lambda", "events"})
ON_FAILURE_SERVICES = ON_SUCCESS_SERVICES | {"s3"}


class DestinationClaims(Protocol):
    """Which loaded destination adapter delivers to a target (``router.registry.Destinations``).

    Hook calls only, no I/O. A target an adapter claims is accepted even when AWS would refuse it
    (not an ARN, or a service AWS does not offer); the services AWS offers keep AWS's checks.
    """

    def claimant(self, target: str, kind: str) -> str | None: ...

    @property
    def names(self) -> list[str]:
        """The loaded adapters' names, for messages."""
        ...


class NoClaims:
    """No adapters loaded: only what AWS accepts is accepted."""

    def claimant(self, target: str, kind: str) -> str | None:
        return None

    @property
    def names(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Outcome:
    """One side of a DestinationConfig as given: absent (None) or present, maybe without ARN."""

    destination: str | None = None


@dataclass(frozen=True)
class DestinationChanges:
    on_success: Outcome | None = None
    on_failure: Outcome | None = None


@dataclass(frozen=True)
class ConfigChanges:
    """The settings a Put or Update carries; ``None`` means "not given"."""

    maximum_retry_attempts: int | None = None
    maximum_event_age_in_seconds: int | None = None
    destination_config: DestinationChanges | None = None

    @property
    def empty(self) -> bool:
        return (
            self.maximum_retry_attempts is None
            and self.maximum_event_age_in_seconds is None
            and self.destination_config is None
        )


class EventInvokeConfigs:
    def __init__(
        self,
        store: FunctionStore,
        partition: Partition,
        claims: DestinationClaims | None = None,
    ) -> None:
        self.store = store
        self.partition = partition
        self.claims = claims or NoClaims()

    async def put(
        self, function_name: str, qualifier: str | None, settings: ConfigChanges
    ) -> EventInvokeConfig:
        """Create or replace: settings not given are removed."""
        ref = await self._check_write(function_name, qualifier, settings)
        config = _config(ref, settings, time.time())
        await self.store.put_event_invoke_config(config)
        return config

    async def update(
        self, function_name: str, qualifier: str | None, settings: ConfigChanges
    ) -> EventInvokeConfig:
        """Merge the given settings into an existing config."""
        ref = await self._check_write(function_name, qualifier, settings)
        current = await self.store.get_event_invoke_config(ref.name, ref.resolved_qualifier)
        if current is None:
            raise self._no_config(ref)
        merged = ConfigChanges(
            maximum_retry_attempts=_first(
                settings.maximum_retry_attempts, current.maximum_retry_attempts
            ),
            maximum_event_age_in_seconds=_first(
                settings.maximum_event_age_in_seconds, current.maximum_event_age_in_seconds
            ),
            destination_config=settings.destination_config
            or DestinationChanges(Outcome(current.on_success), Outcome(current.on_failure)),
        )
        config = _config(ref, merged, time.time())
        await self.store.put_event_invoke_config(config)
        return config

    async def get(self, function_name: str, qualifier: str | None) -> EventInvokeConfig:
        ref = self.partition.parse(function_name, qualifier)
        config = await self.store.get_event_invoke_config(ref.name, ref.resolved_qualifier)
        if config is None:
            raise self._no_config(ref)
        return config

    async def delete(self, function_name: str, qualifier: str | None) -> None:
        ref = self.partition.parse(function_name, qualifier)
        if not await self.store.delete_event_invoke_config(ref.name, ref.resolved_qualifier):
            raise self._no_config(ref)

    async def list(
        self, function_name: str, marker: str | None, max_items: int | None
    ) -> tuple[list[EventInvokeConfig], str | None]:
        ref = self.partition.parse(function_name)
        await self._require_function(FunctionRef(ref.name))
        configs = await self.store.list_event_invoke_configs(ref.name)
        start = int(marker) if marker and marker.isdigit() else 0
        limit = max_items or 50
        page = configs[start : start + limit]
        more = start + limit < len(configs)
        return page, str(start + limit) if more else None

    def arn(self, config: EventInvokeConfig) -> str:
        return self.partition.function_arn(config.function_name, config.qualifier)

    async def _check_write(
        self, function_name: str, qualifier: str | None, settings: ConfigChanges
    ) -> FunctionRef:
        ref = self.partition.parse(function_name, qualifier)
        if settings.empty:
            raise InvalidParameterValueException(
                "You must specify at least one of error handling or destination setting."
            )
        await self._require_function(ref)
        if settings.destination_config is not None:
            await self._check_destinations(ref, settings.destination_config)
        return ref

    async def _require_function(self, ref: FunctionRef) -> None:
        """The function, and the version or alias the qualifier names, exist
        (docs/aws-behaviour.md §2.2)."""
        if await resolve_qualifier(self.store, ref.name, ref.resolved_qualifier) is None:
            raise ResourceNotFoundException("The function doesn't exist.")

    async def _check_destinations(self, ref: FunctionRef, config: DestinationChanges) -> None:
        sides = (
            (config.on_success, ON_SUCCESS_SERVICES, ON_SUCCESS),
            (config.on_failure, ON_FAILURE_SERVICES, ON_FAILURE),
        )
        for side, services, kind in sides:
            arn = side.destination if side else None
            if not arn:
                continue
            service = _service(arn)
            if _plugin_target(arn, kind, self.claims):
                continue
            uri = DESTINATION_URI.match(arn)
            if uri:
                raise self._unclaimed(arn, uri.group(1), kind)
            if service not in services or (service == "lambda" and ":function:" not in arn):
                raise InvalidParameterValueException(
                    f"The provided destination config {_java_style(config)} is invalid."
                )
            if service == "lambda":
                target = _lambda_target(arn)
                if target is None:
                    raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
                if not self._ours(arn):
                    # Another account's or region's function: valid only where an adapter
                    # delivers there (a remote Lambda); its existence is that side's business.
                    if self.claims.claimant(arn, kind) is None:
                        raise InvalidParameterValueException(
                            f"The destination ARN {arn} is invalid."
                        )
                    continue
                if target.name == ref.name:
                    raise InvalidParameterValueException(
                        "You can't specify the function as a destination for itself."
                    )
                exists = await resolve_qualifier(self.store, target.name, target.qualifier)
                if exists is None:
                    raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")

    def _unclaimed(self, target: str, scheme: str, kind: str) -> InvalidParameterValueException:
        """AWS's own message for a URI would be its ARN pattern, which says nothing about the
        plugin that is missing."""
        loaded = ", ".join(sorted(self.claims.names)) or "none"
        return InvalidParameterValueException(
            f"The destination {target} is invalid: no loaded destination plugin claims the "
            f"{scheme} scheme for {kind} (loaded adapters: {loaded}). Destination plugins are "
            f"loaded when the server starts: install one that claims {scheme}, then restart the "
            "server."
        )

    def _ours(self, arn: str) -> bool:
        parts = arn.split(":")
        return parts[3] in ("", self.partition.region) and parts[4] in ("", self.partition.account)

    def _no_config(self, ref: FunctionRef) -> ResourceNotFoundException:
        arn = self.partition.function_arn(ref.name, ref.resolved_qualifier)
        return ResourceNotFoundException(f"The function {arn} doesn't have an EventInvokeConfig")


def _plugin_target(target: str, kind: str, claims: DestinationClaims) -> bool:
    """A destination outside AWS's services (a URI, another ARN service) that an adapter claims.

    Destinations of the services AWS offers keep AWS's checks, whoever delivers to them.
    """
    return _service(target) not in ON_FAILURE_SERVICES and claims.claimant(target, kind) is not None


def _lambda_target(arn: str) -> FunctionRef | None:
    """The function a Lambda destination ARN names, or None when it names none."""
    try:
        return parse_function_name(arn)
    except LambdaError:
        return None


def _service(arn: str) -> str:
    parts = arn.split(":")
    return parts[2] if arn.startswith("arn:") and len(parts) > 2 else ""


def _java_style(config: DestinationChanges) -> str:
    """AWS's Java-style rendering.

    E.g. ``DestinationConfig(onSuccess=OnSuccess(destination=x), onFailure=null)``.
    """

    def side(name: str, outcome: Outcome | None) -> str:
        if outcome is None:
            return "null"
        return f"{name}(destination={outcome.destination or 'null'})"

    return (
        f"DestinationConfig(onSuccess={side('OnSuccess', config.on_success)}, "
        f"onFailure={side('OnFailure', config.on_failure)})"
    )


def _config(ref: FunctionRef, settings: ConfigChanges, now: float) -> EventInvokeConfig:
    destinations = settings.destination_config or DestinationChanges()
    return EventInvokeConfig(
        function_name=ref.name,
        qualifier=ref.resolved_qualifier,
        last_modified=now,
        maximum_retry_attempts=settings.maximum_retry_attempts,
        maximum_event_age_in_seconds=settings.maximum_event_age_in_seconds,
        on_success=(destinations.on_success.destination if destinations.on_success else None)
        or None,
        on_failure=(destinations.on_failure.destination if destinations.on_failure else None)
        or None,
    )


def _first(value: int | None, fallback: int | None) -> int | None:
    return fallback if value is None else value
