"""Who delivers to a target: adapters' ``claims``, the ``claim_destination`` hook before them, and
configuration-time validation that accepts what a plugin claims while every service AWS offers
keeps AWS's checks (issue #4, docs/aws-behaviour.md §2.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from conftest import wait_for

from eventinvoke.client import InvalidParameterValueException, ValidationException
from eventinvoke.core.arn import Partition
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    ON_FAILURE,
    ON_SUCCESS,
    Delivery,
    RouterContext,
    hookimpl,
)
from eventinvoke.router.registry import Destinations

if TYPE_CHECKING:  # loaded by pytest_plugins
    from eventinvoke.testing import RunningSuite

pytest_plugins = ["eventinvoke.testing"]

CONTEXT = RouterContext(Partition(), invoker=None)  # type: ignore[arg-type]
QUEUE = "arn:aws:sqs:us-east-1:000000000000:orders"
STREAM = "arn:aws:kinesis:us-east-1:000000000000:stream/records"
FAIL = "def handler(event, context):\n    raise RuntimeError('failed on purpose')\n"


class Adapter:
    """An adapter that claims nothing itself and keeps what it receives."""

    def __init__(self, name: str, claimed: tuple[str, ...] = ()) -> None:
        self.name = name
        self.claimed = claimed
        self.received: list[Delivery] = []

    def claims(self, target: str) -> bool:
        return target.startswith(self.claimed) if self.claimed else False

    async def deliver(self, delivery: Delivery) -> None:
        self.received.append(delivery)

    async def close(self) -> None:
        pass


class KindAwarePlugin:
    """Claims Kinesis streams and memo:// URIs through the hook, for records of failures only."""

    def __init__(self) -> None:
        self.adapter = Adapter("stream")

    @hookimpl
    def register_destinations(self, register):  # type: ignore[no-untyped-def]
        register(self.adapter)

    @hookimpl
    def claim_destination(self, target: str, kind: str) -> str | None:
        if kind == ON_FAILURE and target.startswith(("arn:aws:kinesis:", "memo://")):
            return self.adapter.name
        return None


class ClaimsEverything:
    """A careless plugin: its adapter claims every target."""

    @hookimpl
    def register_destinations(self, register):  # type: ignore[no-untyped-def]
        register(Adapter("greedy", claimed=("",)))

    @hookimpl
    def claim_destination(self) -> str:
        return "greedy"


def test_the_hook_claims_by_kind() -> None:
    destinations = Destinations.load(CONTEXT, extra_plugins=[KindAwarePlugin()])
    assert destinations.claimant(STREAM, ON_FAILURE) == "stream"
    assert destinations.claimant(STREAM, ON_SUCCESS) is None
    assert destinations.claimant(STREAM, DEAD_LETTER) is None
    # Declined by the hook: the built-in implementation asks the adapters' claims().
    lambda_arn = "arn:aws:lambda:us-east-1:000000000000:function:target"
    assert destinations.claimant(lambda_arn, ON_SUCCESS) == "lambda"


def test_a_hook_implementation_is_asked_before_the_adapters_claims() -> None:
    class Special:
        @hookimpl
        def register_destinations(self, register):  # type: ignore[no-untyped-def]
            register(Adapter("broad", claimed=("memo://",)))
            register(Adapter("special"))

        @hookimpl
        def claim_destination(self, target: str) -> str | None:
            return "special" if target == "memo://special" else None

    destinations = Destinations.load(CONTEXT, extra_plugins=[Special()])
    assert destinations.claimant("memo://special", ON_SUCCESS) == "special"
    assert destinations.claimant("memo://other", ON_SUCCESS) == "broad"


def test_a_claim_naming_no_registered_adapter_is_no_claim() -> None:
    class Confused:
        @hookimpl
        def claim_destination(self) -> str:
            return "nobody"

    destinations = Destinations.load(CONTEXT, extra_plugins=[Confused()])
    assert destinations.claimant(STREAM, ON_SUCCESS) is None
    assert destinations.adapter_for(STREAM, ON_SUCCESS) is None


def test_adapter_names_are_unique() -> None:
    class Twice:
        @hookimpl
        def register_destinations(self, register):  # type: ignore[no-untyped-def]
            register(Adapter("twin"))
            register(Adapter("twin"))

    with pytest.raises(ValueError, match="two destination adapters are named 'twin'"):
        Destinations.load(CONTEXT, extra_plugins=[Twice()])


KIND_AWARE = KindAwarePlugin()


@pytest.mark.parametrize("eventinvoke_plugins", [[KIND_AWARE]])
async def test_configuration_accepts_what_a_plugin_claims_for_that_kind(
    eventinvoke_suite: RunningSuite,
) -> None:
    suite = eventinvoke_suite
    await suite.deploy("fn", FAIL)
    await suite.set_destinations("fn", on_failure=STREAM)
    await suite.set_destinations("fn", on_failure="memo://failures")

    # Not claimed for OnSuccess: a URI is refused naming its scheme and what is loaded; an ARN
    # of a service AWS does not offer gets AWS's answer.
    loaded = ", ".join(sorted(Destinations.load(CONTEXT, extra_plugins=[KindAwarePlugin()]).names))
    with pytest.raises(InvalidParameterValueException) as unclaimed:
        await suite.set_destinations("fn", on_success="memo://failures")
    assert unclaimed.value.message == (
        "The destination memo://failures is invalid: no loaded destination plugin claims the "
        f"memo scheme for OnSuccess (loaded adapters: {loaded}). Destination plugins are loaded "
        "when the server starts: install one that claims memo, then restart the server."
    )
    assert "stream" in loaded.split(", ")
    with pytest.raises(InvalidParameterValueException) as service:
        await suite.set_destinations("fn", on_success=STREAM)
    assert service.value.message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess("
        f"destination={STREAM}), onFailure=null) is invalid."
    )

    # The record of a failure reaches the adapter the hook named, with its kind.
    request_id = await suite.invoke_event("fn", {"n": 1})
    await wait_for(lambda: KIND_AWARE.adapter.received)
    [delivery] = KIND_AWARE.adapter.received
    assert (delivery.target, delivery.kind) == ("memo://failures", ON_FAILURE)
    assert delivery.record.request_id == request_id


@pytest.mark.parametrize("eventinvoke_plugins", [[ClaimsEverything()]])
async def test_services_aws_offers_keep_aws_checks_whatever_a_plugin_claims(
    eventinvoke_suite: RunningSuite,
) -> None:
    suite = eventinvoke_suite
    await suite.deploy("fn")
    bucket = "arn:aws:s3:::failures"
    with pytest.raises(InvalidParameterValueException) as s3:
        await suite.set_destinations("fn", on_success=bucket)
    assert s3.value.message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess("
        f"destination={bucket}), onFailure=null) is invalid."
    )
    missing = "arn:aws:lambda:us-east-1:000000000000:function:missing"
    with pytest.raises(InvalidParameterValueException) as function:
        await suite.set_destinations("fn", on_failure=missing)
    assert function.value.message == f"The destination ARN {missing} is invalid."
    malformed = "arn:aws:sqs:nowhere:000000000000:q"
    with pytest.raises(ValidationException, match="Member must satisfy regular expression"):
        await suite.set_destinations("fn", on_success=malformed)
    # Outside AWS's services, the claim counts.
    await suite.set_destinations("fn", on_success="anything://at-all")
