"""Connections to user-given addresses, guarded against server-side request forgery (SSRF).

Whoever configures a function chooses its destinations, and the Router connects to them from
inside the network it runs in: a webhook to ``http://127.0.0.1:.../`` or to the cloud's metadata
service (``169.254.169.254``) would reach what only the server should. ``OutboundGuard`` resolves
each host itself and admits only globally reachable addresses, plus those the
``destination_allow_networks`` setting admits. The connection is then made to the very addresses
it checked: DNS cannot answer one address to the check and another to the connect (DNS
rebinding).

Its aiohttp session checks every connection it opens, so every hop of a redirect too. It does so
in the connector's ``_resolve_host``, not in an ``aiohttp.abc.AbstractResolver``: aiohttp skips
resolvers for IP literals, and ``http://127.0.0.1/`` is the first thing an attacker tries.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.tracing import Trace

from eventinvoke.router.errors import PermanentDeliveryError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The instance metadata services of AWS (IPv4 and its Nitro IPv6 endpoint), also GCP's and
# Azure's IPv4 one. Named apart from "link-local" because reaching them leaks credentials.
CLOUD_METADATA = frozenset(
    ipaddress.ip_address(address) for address in ("169.254.169.254", "fd00:ec2::254")
)
SETTING = "destination_allow_networks"


class AddressRefusedError(PermanentDeliveryError):
    """A host resolves only to addresses a destination may not reach. Permanent: the delivery
    goes to the failed-delivery store with this message as its reason."""


def unmapped(address: Address) -> Address:
    """An IPv4-mapped IPv6 address as the IPv4 address it reaches: ::ffff:127.0.0.1 is
    127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_kind(address: Address) -> str | None:
    """What makes ``address`` unfit for a user-given destination ("a loopback address"), or
    None for a globally reachable one."""
    address = unmapped(address)
    if address in CLOUD_METADATA:
        return "a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_unspecified, "an unspecified address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "an address that is not globally reachable"),
    )
    return next((kind for matched, kind in checks if matched), None)


def parse_networks(networks: Iterable[str]) -> tuple[Network, ...]:
    """``["127.0.0.0/8", "fd00::/8"]`` as networks; ``ValueError`` names a bad one."""
    return tuple(ipaddress.ip_network(network.strip()) for network in networks)


class OutboundGuard:
    """Resolves hosts for connections to user-given addresses and refuses the ones a
    destination may not reach (``address_kind``) unless ``allow_networks`` admit them.

    Adapters get the Router's own from ``RouterContext.outbound``: use ``session()`` for HTTP,
    or ``await resolve(host, port)`` and connect to an address it returns for anything else.
    """

    def __init__(self, allow_networks: Iterable[str] = ()) -> None:
        self.allow_networks = parse_networks(allow_networks)

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` is refused, or None when it may be reached."""
        if any(unmapped(address) in network for network in self.allow_networks):
            return None
        return address_kind(address)

    async def resolve(self, host: str, port: int = 0) -> list[Address]:
        """The addresses of ``host`` that may be reached, in the resolver's order. Raises
        ``AddressRefusedError`` when there are none, ``OSError`` when ``host`` does not
        resolve (a DNS failure, which may pass)."""
        try:
            found: Sequence[Address] = [ipaddress.ip_address(host)]
        except ValueError:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
            found = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
        admitted = [address for address in found if self.refusal(address) is None]
        if not admitted:
            address = found[0]
            where = f"{host} is" if str(address) == host else f"{host} resolves to {address},"
            raise AddressRefusedError(
                f"{where} {self.refusal(address)}: refused unless {SETTING} admits it"
            )
        return admitted

    def session(self, **kwargs: Any) -> aiohttp.ClientSession:
        """An ``aiohttp.ClientSession`` (``kwargs`` as its own) whose every connection, redirects
        included, goes only to addresses ``resolve`` admits. Never through a proxy: a proxy
        would resolve the host itself, unchecked."""
        return aiohttp.ClientSession(connector=_GuardedConnector(self), trust_env=False, **kwargs)


class _GuardedConnector(aiohttp.TCPConnector):
    """Connects only to the addresses the guard admitted, for IP literals as for names."""

    def __init__(self, guard: OutboundGuard) -> None:
        super().__init__(use_dns_cache=False)
        self._guard = guard

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        return [
            {
                "hostname": host,
                "host": str(address),
                "port": port,
                "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            }
            for address in await self._guard.resolve(host, port)
        ]
