"""Where webhooks may go: URL and address checks against SSRF, and the operator's allow-list."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254"))


def url_problem(url: str) -> str | None:
    """What is wrong with the URL itself, before any address is looked at."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        return "The URL must use https or http."
    if not parts.hostname:
        return "The URL must name a host."
    if parts.username or parts.password:
        return "The URL must not carry credentials."
    try:
        parts.port  # noqa: B018 — raises for a port out of range
    except ValueError:
        return "The URL's port is not valid."
    return None


def address_problem(address: str) -> str | None:
    """Why webhooks must not go to this address (SSRF protection), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for flag, reason in (("is_loopback", "a loopback address"),
                         ("is_link_local", "a link-local address"),
                         ("is_unspecified", "the unspecified address"),
                         ("is_multicast", "a multicast address"),
                         ("is_private", "a private or unique-local address"),
                         ("is_reserved", "a reserved address")):
        if getattr(ip, flag):
            return reason
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts and networks an operator admits despite the address rule (WEBHOOK_ALLOWED_HOSTS)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def admits(self, host: str, address: str) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip.version == n.version and ip in n for n in self.networks)


def destination_problem(url: str, addresses: Sequence[str], allowed: AllowList) -> str | None:
    """Why a webhook must not be sent to ``url`` whose host resolved to ``addresses``."""
    if problem := url_problem(url):
        return problem
    host = urlsplit(url).hostname or ""
    if not addresses:
        return f"The host {host} does not resolve to any address."
    for address in addresses:
        reason = address_problem(address)
        if reason and not allowed.admits(host, address):
            return (f"The host {host} resolves to {address}, {reason}; webhooks are not sent "
                    "there unless an operator admits it in WEBHOOK_ALLOWED_HOSTS.")
    return None
