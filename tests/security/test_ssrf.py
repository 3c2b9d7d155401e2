"""Destinations at user-given addresses do not reach what only the server should (issue #16 §4):
loopback, private, link-local, multicast and cloud-metadata addresses are refused after DNS
resolution and on redirects, unless ``destination_allow_networks`` admits them; the delivery
fails for good with the reason in the failed-delivery store."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from eventinvoke.router.outbound import address_kind
from eventinvoke.router.plugin import AddressRefusedError, OutboundGuard
from eventinvoke.server.config import SettingError, Settings
from eventinvoke.testing import RunningSuite, wait_for

REFUSED = "refused unless destination_allow_networks admits it"


@dataclass
class Listener:
    """An HTTP server that records what reaches it and answers ``answer`` to it."""

    url: str = ""
    received: list[str] = field(default_factory=list)
    answer: Callable[[], web.Response] = lambda: web.Response(text="ok")

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(f"{request.method} {request.path}")
        return self.answer()


async def serve(listener: Listener, host: str) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, 0).start()
    bound_host, port = runner.addresses[0][:2]
    listener.url = f"http://{bound_host}:{port}/hook"
    return runner


@pytest.fixture
async def loopback() -> AsyncIterator[Listener]:
    listener = Listener()
    runner = await serve(listener, "127.0.0.1")
    yield listener
    await runner.cleanup()


@pytest.fixture
async def elsewhere() -> AsyncIterator[Listener]:
    """A listener on 127.0.0.2: loopback, but outside an allow-list of 127.0.0.1/32."""
    listener = Listener()
    runner = await serve(listener, "127.0.0.2")
    yield listener
    await runner.cleanup()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("100.64.0.1", "an address that is not globally reachable"),
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_what_kind_of_address(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


async def test_the_allow_list_admits_named_networks_only() -> None:
    guard = OutboundGuard(["127.0.0.0/8", "10.1.0.0/16"])
    assert await guard.resolve("127.0.0.1") == [ipaddress.ip_address("127.0.0.1")]
    assert await guard.resolve("::ffff:10.1.2.3") == [ipaddress.ip_address("::ffff:10.1.2.3")]
    with pytest.raises(AddressRefusedError, match=f"10.2.0.1 is a private address: {REFUSED}"):
        await guard.resolve("10.2.0.1")
    with pytest.raises(AddressRefusedError, match="169.254.169.254 is a cloud metadata"):
        await guard.resolve("169.254.169.254")


def test_the_allow_list_setting_takes_networks_only() -> None:
    settings = Settings.load({"destination_allow_networks": "127.0.0.0/8, fd00::/8"}, environ={})
    assert settings.destination_allow_networks == ("127.0.0.0/8", "fd00::/8")
    with pytest.raises(SettingError, match="'localhost' does not appear to be an IPv4 or IPv6"):
        Settings.load({"destination_allow_networks": "localhost"}, environ={})
    with pytest.raises(SettingError, match="127.0.0.1/8 has host bits set"):
        Settings.load({"destination_allow_networks": "127.0.0.1/8"}, environ={})


# --- the helper's session: checked after resolution, on every hop ---------------------------


async def test_the_session_refuses_literals_and_names_before_connecting(
    loopback: Listener,
) -> None:
    port = loopback.url.split(":")[2].split("/")[0]
    async with OutboundGuard().session() as session:
        for url, reason in [
            (loopback.url, f"127.0.0.1 is a loopback address: {REFUSED}"),
            # A number is an IPv4 address to getaddrinfo: the check is on what it resolves to.
            (f"http://2130706433:{port}/", "2130706433 resolves to 127.0.0.1, a loopback"),
            (f"http://localhost:{port}/", "localhost resolves to (127.0.0.1|::1), a loopback"),
        ]:
            with pytest.raises(AddressRefusedError, match=reason):
                await session.get(url)
    assert loopback.received == []


async def test_the_session_checks_every_redirect(loopback: Listener, elsewhere: Listener) -> None:
    """An admitted receiver's redirect to a refused address is refused before connecting."""
    loopback.answer = lambda: web.Response(status=307, headers={"Location": elsewhere.url})
    async with OutboundGuard(["127.0.0.1/32"]).session() as session:
        with pytest.raises(AddressRefusedError, match="127.0.0.2 is a loopback address"):
            await session.post(loopback.url, data=b"{}")
    assert loopback.received == ["POST /hook"]
    assert elsewhere.received == []


async def test_the_session_reaches_what_the_allow_list_admits(loopback: Listener) -> None:
    async with (
        OutboundGuard(["127.0.0.1/32"]).session() as session,
        session.get(loopback.url) as response,
    ):
        assert response.status == 200
    assert loopback.received == ["GET /hook"]


# --- the webhook plugin in a running suite: the record ends in the failed-delivery store -------


async def _failed_delivery_reason(suite: RunningSuite, target: str) -> str:
    await suite.deploy("fn")
    await suite.set_destinations("fn", on_success=target)
    request_id = await suite.invoke_event("fn", {"order": 1})
    [entry] = await suite.failed_deliveries()
    assert entry["Destination"]["Target"] == target
    assert entry["Attempts"] == 1  # permanent: not retried
    assert entry["Record"]["requestContext"]["requestId"] == request_id
    return entry["Reason"]


async def test_a_webhook_to_loopback_fails_and_the_listener_gets_nothing(
    eventinvoke_suite: RunningSuite, loopback: Listener
) -> None:
    reason = await _failed_delivery_reason(eventinvoke_suite, loopback.url)
    assert reason == f"webhook: 127.0.0.1 is a loopback address: {REFUSED}"
    assert loopback.received == []


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://10.20.30.40/hook", f"webhook: 10.20.30.40 is a private address: {REFUSED}"),
        (
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            f"webhook: 169.254.169.254 is a cloud metadata address: {REFUSED}",
        ),
        (
            "http://[fd00:ec2::254]/latest",
            f"webhook: fd00:ec2::254 is a cloud metadata address: {REFUSED}",
        ),
    ],
)
async def test_a_webhook_to_a_private_or_metadata_address_fails_before_connecting(
    eventinvoke_suite: RunningSuite, target: str, reason: str
) -> None:
    assert await _failed_delivery_reason(eventinvoke_suite, target) == reason


@pytest.mark.parametrize(
    "eventinvoke_settings", [{"destination_allow_networks": ("127.0.0.1/32",)}]
)
async def test_a_webhook_redirected_to_a_refused_address_fails_and_is_not_followed(
    eventinvoke_suite: RunningSuite, loopback: Listener, elsewhere: Listener
) -> None:
    loopback.answer = lambda: web.Response(status=307, headers={"Location": elsewhere.url})
    reason = await _failed_delivery_reason(eventinvoke_suite, loopback.url)
    assert reason == f"webhook: HTTP 307: a redirect to {elsewhere.url}, not followed"
    assert loopback.received == ["POST /hook"]
    assert elsewhere.received == []


@pytest.mark.parametrize(
    "eventinvoke_settings", [{"destination_allow_networks": ("127.0.0.1/32",)}]
)
async def test_a_webhook_to_an_admitted_address_is_delivered(
    eventinvoke_suite: RunningSuite, loopback: Listener
) -> None:
    await eventinvoke_suite.deploy("fn")
    await eventinvoke_suite.set_destinations("fn", on_success=loopback.url)
    await eventinvoke_suite.invoke_event("fn", {"order": 1})
    assert await wait_for(lambda: loopback.received) == ["POST /hook"]
    assert (await eventinvoke_suite.client.list_failed_deliveries())["FailedDeliveries"] == []
