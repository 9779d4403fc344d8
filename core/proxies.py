"""The client's address behind reverse proxies. `X-Forwarded-For` is believed only as far as our own proxies
(setting TRUSTED_PROXIES: IPs and CIDRs) wrote it: read right to left, skip trusted hops, and the first
address that is not one of ours is the client. Anything a client wrote further left is ignored."""
from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None


def _address(text: str) -> Address | None:
    text = text.strip()[:64]
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def client_ip(request) -> str:
    """The address a request came from, as text ("?" when the socket's peer is unknown)."""
    peer = _address(request.META.get("REMOTE_ADDR") or "")
    if peer is None:
        return "?"
    trusted = _networks(tuple(settings.TRUSTED_PROXIES))
    if not any(peer in net for net in trusted):
        return str(peer)
    hops = (request.META.get("HTTP_X_FORWARDED_FOR") or "")[-4096:].split(",")  # our proxies write on the right
    client = peer
    for hop in reversed(hops[-32:]):
        address = _address(hop)
        if address is None:  # not written by a proxy of ours: stop at the last hop we can vouch for
            break
        client = address
        if not any(address in net for net in trusted):
            break
    return str(client)
