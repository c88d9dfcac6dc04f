"""The API root and the check every base URL passes (no aiohttp here: the command line
builds its options from these without paying for the HTTP stack)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from ..errors import UsageError
from ..models import DEFAULT_BASE_URL as DEFAULT_BASE_URL  # the one definition; named here too


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Return ``base_url`` without a trailing slash, or raise UsageError if unsafe or malformed.

    The key travels in every request, so plain http is only accepted to loopback hosts
    unless the caller explicitly allows it.
    """
    try:
        parts = urlsplit(base_url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError as exc:  # 'http://[::1' is an "Invalid IPv6 URL"
        raise UsageError(f"base_url {base_url!r} is not a URL: {exc}", "base_url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"base_url {base_url!r} is not an http(s) URL", "base_url")
    if parts.username or parts.password:
        raise UsageError(
            "base_url must not contain credentials; the key is sent separately", "base_url"
        )
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(host):
        raise UsageError(
            f"refusing to send the private key over plain http to {host}; "
            "use https, or set allow_insecure_http if you really mean it",
            "allow_insecure_http",
        )
    return base_url.rstrip("/")
