"""The webhook adapter against a real HTTP receiver: unit by unit, then through a real suite."""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from eventinvoke_webhook import WebhookDestination, retry_after

from eventinvoke.core.arn import Partition
from eventinvoke.router.plugin import (
    DEAD_LETTER,
    ON_SUCCESS,
    AddressRefusedError,
    Delivery,
    ExecutionRecord,
    OutboundGuard,
    PermanentDeliveryError,
    RetryableDeliveryError,
    RouterContext,
)
from eventinvoke.router.registry import Destinations
from eventinvoke.testing import RunningSuite, wait_for

SECRET_ENV = "EVENTINVOKE_WEBHOOK_TEST_SECRET"
# The receivers listen on loopback, which the SSRF guard refuses unless the allow-list admits it.
LOOPBACK = ("127.0.0.0/8",)

RECORD = ExecutionRecord(
    request_id="c2ae4a5c-4b6a-4c3f-9e70-2b0a1f7d0b55",
    function_arn="arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST",
    condition="Success",
    approximate_invoke_count=1,
    request_payload=b'{"order": 1}',
    timestamp=datetime(2019, 11, 24, 23, 8, 25, 651000, tzinfo=UTC),
    executed_version="$LATEST",
    response_payload=b'{"ok": true}',
)


def delivery(target: str, kind: str = ON_SUCCESS) -> Delivery:
    return Delivery(delivery_id="d-1", target=target, kind=kind, record=RECORD)


class Receiver:
    """Answers each POST with the next scripted (status, headers, body, delay), then 200."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[tuple[bytes, dict[str, str]]] = []
        self.script: list[tuple[int, dict[str, str], str, float]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((await request.read(), dict(request.headers)))
        status, headers, body, delay = self.script.pop(0) if self.script else (200, {}, "", 0)
        await asyncio.sleep(delay)
        return web.Response(status=status, headers=headers, text=body)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/hook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def adapter() -> AsyncIterator[WebhookDestination]:
    webhook = WebhookDestination(
        {"secret_env": SECRET_ENV, "timeout": 0.5}, OutboundGuard(LOOPBACK)
    )
    yield webhook
    await webhook.close()


def test_plugin_is_installed() -> None:
    destinations = Destinations.load(RouterContext(Partition(), invoker=None))  # type: ignore[arg-type]
    names = {dist.project_name for _, dist in destinations.manager.list_plugin_distinfo()}
    assert "eventinvoke-webhook" in names
    assert destinations.claimant("https://hooks.example.com/x", ON_SUCCESS) == "webhook"


def test_claims_http_and_https_only() -> None:
    webhook = WebhookDestination({})
    assert webhook.claims("https://hooks.example.com/x")
    assert webhook.claims("http://127.0.0.1:8080/hook")
    assert not webhook.claims("ftp://example.com/x")
    assert not webhook.claims("arn:aws:sqs:us-east-1:000000000000:q")


def test_retry_after_is_seconds_or_an_http_date() -> None:
    now = 1_700_000_000.0
    assert retry_after("120", now) == 120.0
    assert retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == 30.0
    assert retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0
    assert retry_after(None) is None
    assert retry_after("soon") is None
    assert retry_after("nan") is None


async def test_a_signed_post_of_the_record(
    adapter: WebhookDestination, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    await adapter.deliver(delivery(receiver.url))
    [(body, headers)] = receiver.requests
    assert body == RECORD.to_json().encode()
    assert headers["Content-Type"] == "application/json"
    expected = hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
    assert headers["X-Eventinvoke-Signature"] == f"sha256={expected}"
    assert headers["X-Eventinvoke-Delivery-Id"] == "d-1"


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_retryable_with_the_hint(
    adapter: WebhookDestination, receiver: Receiver, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    receiver.script.append((status, {"Retry-After": "7"}, "slow down", 0))
    with pytest.raises(RetryableDeliveryError) as raised:
        await adapter.deliver(delivery(receiver.url))
    assert raised.value.retry_after == 7.0
    assert str(raised.value) == f"HTTP {status}: slow down"


async def test_other_statuses_are_permanent_with_an_excerpt(
    adapter: WebhookDestination, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    receiver.script.append((404, {}, "x" * 500, 0))
    with pytest.raises(PermanentDeliveryError) as raised:
        await adapter.deliver(delivery(receiver.url))
    assert str(raised.value) == "HTTP 404: " + "x" * 200 + "…"


async def test_timeouts_and_refused_connections_are_retryable(
    adapter: WebhookDestination, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    receiver.script.append((200, {}, "", 2.0))
    with pytest.raises(RetryableDeliveryError, match="TimeoutError"):
        await adapter.deliver(delivery(receiver.url))
    with pytest.raises(RetryableDeliveryError) as refused:
        await adapter.deliver(delivery("http://127.0.0.1:9/hook"))
    assert refused.value.retry_after is None


async def test_refusals_before_sending(adapter: WebhookDestination, receiver: Receiver) -> None:
    with pytest.raises(PermanentDeliveryError, match=f"{SECRET_ENV} is not set"):
        await adapter.deliver(delivery(receiver.url))
    with pytest.raises(PermanentDeliveryError, match="not dead-letter events"):
        await adapter.deliver(delivery(receiver.url, DEAD_LETTER))
    assert receiver.requests == []


async def test_loopback_is_refused_unless_admitted(receiver: Receiver) -> None:
    webhook = WebhookDestination({})  # the default guard, as without destination_allow_networks
    try:
        with pytest.raises(AddressRefusedError) as raised:
            await webhook.deliver(delivery(receiver.url))
    finally:
        await webhook.close()
    assert str(raised.value) == (
        "127.0.0.1 is a loopback address: refused unless destination_allow_networks admits it"
    )
    assert receiver.requests == []


async def test_a_redirect_is_not_followed(
    adapter: WebhookDestination, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    receiver.script.append((307, {"Location": "http://169.254.169.254/latest"}, "moved", 0))
    with pytest.raises(PermanentDeliveryError) as raised:
        await adapter.deliver(delivery(receiver.url))
    assert str(raised.value) == (
        "HTTP 307: a redirect to http://169.254.169.254/latest, not followed"
    )
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "eventinvoke_settings",
    [
        {
            "destinations": {"webhook": {"secret_env": SECRET_ENV}},
            "destination_allow_networks": LOOPBACK,
        }
    ],
)
async def test_a_record_from_the_suite_arrives_signed(
    eventinvoke_suite: RunningSuite, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cr3t")
    await eventinvoke_suite.deploy("fn")
    await eventinvoke_suite.set_destinations("fn", on_success=receiver.url)
    request_id = await eventinvoke_suite.invoke_event("fn", {"order": 1})
    [(body, headers)] = await wait_for(lambda: receiver.requests)
    record: dict[str, Any] = json.loads(body)
    assert record["requestContext"]["requestId"] == request_id
    assert record["responsePayload"] == {"order": 1}
    expected = hmac.new(b"s3cr3t", body, hashlib.sha256).hexdigest()
    assert headers["X-Eventinvoke-Signature"] == f"sha256={expected}"
