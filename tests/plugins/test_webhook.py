"""The webhook plugin, a separate distribution installed like any user's plugin: discovered
through its entry point, delivering to a real HTTP receiver from the real suite, and disabled by
name (issue #4)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from conftest import wait_for

from eventinvoke.client import InvalidParameterValueException
from eventinvoke.core.arn import Partition
from eventinvoke.router.plugin import ON_SUCCESS, RouterContext
from eventinvoke.router.registry import Destinations

if TYPE_CHECKING:  # imported by pytest_plugins, so that pytest loads it before anyone else
    from eventinvoke.testing import RunningSuite

pytest_plugins = ["eventinvoke.testing"]

CONTEXT = RouterContext(Partition(), invoker=None)  # type: ignore[arg-type]
SECRET_ENV = "EVENTINVOKE_TEST_WEBHOOK_SECRET"
SECRET = "correct horse battery staple"
FAIL = "def handler(event, context):\n    raise RuntimeError('failed on purpose')\n"
# The receivers listen on loopback, which the SSRF guard refuses unless the allow-list admits it.
LOOPBACK = {"destination_allow_networks": ("127.0.0.0/8",)}
SIGNED = {"destinations": {"webhook": {"secret_env": SECRET_ENV, "timeout": 5}}, **LOOPBACK}


@pytest.fixture
def eventinvoke_settings() -> dict[str, object]:
    return LOOPBACK


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    at: float  # time.monotonic()


@dataclass
class Receiver:
    """An HTTP endpoint that answers with ``script`` (status, headers, body) in turn, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str], str]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            Received(await request.read(), dict(request.headers), time.monotonic())
        )
        status, headers, body = self.script.pop(0) if self.script else (200, {}, "ok")
        return web.Response(status=status, headers=headers, text=body)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


@pytest.fixture
def signing_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return SECRET


def test_the_plugin_is_discovered_through_its_entry_point() -> None:
    destinations = Destinations.load(CONTEXT)
    names = {
        destinations.manager.get_name(plugin): dist.project_name
        for plugin, dist in destinations.manager.list_plugin_distinfo()
    }
    assert names["webhook"] == "eventinvoke-webhook"
    for url in ("https://hooks.example.com/x", "http://127.0.0.1:8080/hook"):
        adapter = destinations.adapter_for(url, ON_SUCCESS)
        assert adapter is not None and adapter.name == "webhook"
    assert destinations.claimant("ftp://example.com/x", ON_SUCCESS) is None


def test_a_plugin_disabled_by_name_is_not_loaded() -> None:
    destinations = Destinations.load(CONTEXT, disabled=["webhook"])
    assert destinations.manager.is_blocked("webhook")
    assert destinations.claimant("https://hooks.example.com/x", ON_SUCCESS) is None


@pytest.mark.parametrize("eventinvoke_settings", [SIGNED])
async def test_records_arrive_as_exact_json_with_a_valid_signature(
    eventinvoke_suite: RunningSuite, receiver: Receiver, signing_secret: str
) -> None:
    suite = eventinvoke_suite
    await suite.deploy("ok")
    await suite.deploy("ko", FAIL)
    await suite.set_destinations("ok", on_success=receiver.url)
    await suite.set_destinations("ko", on_failure=receiver.url)
    config = await suite.client.get_function_event_invoke_config("ok")
    assert config["DestinationConfig"] == {
        "OnSuccess": {"Destination": receiver.url},
        "OnFailure": {},
    }

    ok = await suite.invoke_event("ok", {"order": 1})
    await wait_for(lambda: len(receiver.received) == 1)
    ko = await suite.invoke_event("ko", {"order": 2})
    await wait_for(lambda: len(receiver.received) == 2)

    for request in receiver.received:
        assert request.headers["Content-Type"] == "application/json"
        expected = hmac.new(signing_secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["X-Eventinvoke-Signature"] == f"sha256={expected}"
        assert request.headers["X-Eventinvoke-Delivery-Id"]
    success, failure = (json.loads(r.body) for r in receiver.received)
    # The body is the record exactly as AWS formats it: compact JSON, keys in AWS's order.
    for request, record in zip(receiver.received, (success, failure), strict=True):
        compact = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        assert request.body == compact.encode()
    assert list(success) == [
        "version",
        "timestamp",
        "requestContext",
        "requestPayload",
        "responseContext",
        "responsePayload",
    ]
    assert success["version"] == "1.0"
    assert success["requestContext"] == {
        "requestId": ok,
        "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:ok:$LATEST",
        "condition": "Success",
        "approximateInvokeCount": 1,
    }
    assert success["requestPayload"] == {"order": 1}
    assert success["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert success["responsePayload"] == {"order": 1}
    assert failure["requestContext"]["requestId"] == ko
    assert failure["requestContext"]["condition"] == "RetriesExhausted"
    assert failure["responseContext"]["functionError"] == "Unhandled"
    assert failure["responsePayload"]["errorMessage"] == "failed on purpose"


async def test_without_a_secret_records_are_not_signed(
    eventinvoke_suite: RunningSuite, receiver: Receiver
) -> None:
    await eventinvoke_suite.deploy("ok")
    await eventinvoke_suite.set_destinations("ok", on_success=receiver.url)
    await eventinvoke_suite.invoke_event("ok")
    await wait_for(lambda: receiver.received)
    assert "X-Eventinvoke-Signature" not in receiver.received[0].headers


async def test_a_503_with_retry_after_is_retried_no_sooner_than_asked(
    eventinvoke_suite: RunningSuite, receiver: Receiver
) -> None:
    """Retry-After is the receiver's wish in real seconds: time_scale does not shorten it (the
    Router's own backoff, at time_scale 0.01, would retry within 10 ms)."""
    receiver.script.append((503, {"Retry-After": "1"}, "busy"))
    await eventinvoke_suite.deploy("ok")
    await eventinvoke_suite.set_destinations("ok", on_success=receiver.url)
    await eventinvoke_suite.invoke_event("ok", {"n": 1})
    await wait_for(lambda: len(receiver.received) == 2)
    first, second = receiver.received
    assert second.at - first.at >= 1.0
    assert second.body == first.body
    assert second.headers["X-Eventinvoke-Delivery-Id"] == first.headers["X-Eventinvoke-Delivery-Id"]
    await asyncio.sleep(0.2)
    assert len(receiver.received) == 2
    assert (await eventinvoke_suite.client.list_failed_deliveries())["FailedDeliveries"] == []


async def test_a_400_is_a_failed_delivery_with_its_status_and_body(
    eventinvoke_suite: RunningSuite, receiver: Receiver
) -> None:
    receiver.script.append((400, {}, "no such hook"))
    await eventinvoke_suite.deploy("ok")
    await eventinvoke_suite.set_destinations("ok", on_success=receiver.url)
    request_id = await eventinvoke_suite.invoke_event("ok")
    [entry] = await eventinvoke_suite.failed_deliveries()
    assert entry["Reason"] == "webhook: HTTP 400: no such hook"
    assert entry["Destination"]["Target"] == receiver.url
    assert entry["Attempts"] == 1
    assert entry["Record"]["requestContext"]["requestId"] == request_id
    assert len(receiver.received) == 1


@pytest.mark.parametrize("eventinvoke_settings", [{"disabled_destinations": ("webhook",)}])
async def test_disabled_by_name_an_http_destination_is_refused_naming_the_scheme(
    eventinvoke_suite: RunningSuite, receiver: Receiver
) -> None:
    await eventinvoke_suite.deploy("ok")
    with pytest.raises(InvalidParameterValueException) as raised:
        await eventinvoke_suite.set_destinations("ok", on_success=receiver.url)
    assert raised.value.message == (
        f"The destination {receiver.url} is invalid: no loaded destination plugin claims the "
        "http scheme for OnSuccess (loaded adapters: eventbridge, lambda, s3, sns, sqs). "
        "Destination plugins are loaded when the server starts: install one that claims http, "
        "then restart the server."
    )
    await eventinvoke_suite.invoke_event("ok")
    await asyncio.sleep(0.5)
    assert receiver.received == []
