"""Which URLs vidar may reach on a user's behalf (URL sources, router_url): http(s) only, and
only public addresses (every address a host resolves to) unless allowlisted.

The address is checked before connecting, not pinned: a DNS answer that changes between the
check and the connection (rebinding) is not caught. Allowlist internal servers instead of
trusting their names.
"""

import asyncio
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UrlRefused(Exception):
    """The URL may not or cannot be reached; the message is for the user."""


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[IpNetwork, ...]

    @classmethod
    def parse(cls, entries: list[str]) -> "Allowlist":
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower())
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IpAddress) -> bool:
        return host.lower() in self.hosts or any(address in network for network in self.networks)


def _why_not_public(address: IpAddress) -> str | None:
    for kind, flagged in (
        ("an unspecified", address.is_unspecified),
        ("a loopback", address.is_loopback),
        ("a link-local (cloud metadata)", address.is_link_local),
        ("a private", address.is_private),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved or not address.is_global),
    ):
        if flagged:
            return kind
    return None


async def check(url: str, allowlist: Allowlist) -> None:
    """Refuse non-http(s) URLs and hosts that resolve to any non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UrlRefused(f"Refused to reach {url}: only http and https URLs are supported.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, port)
    except OSError as error:
        raise UrlRefused(f"Could not reach {url}: the host {parts.hostname} does not resolve ({error}).") from None
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        reason = _why_not_public(address)
        if reason and not allowlist.permits(parts.hostname, address):
            named = f"{address} is" if parts.hostname == str(address) else f"{parts.hostname} is {address},"
            raise UrlRefused(
                f"Refused to reach {url}: {named} {reason} address (add it to VIDAR_URL_ALLOWLIST to allow it)."
            )
