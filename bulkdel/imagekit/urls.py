"""The API root and the check every base URL passes (no aiohttp here: the command line
builds its options from these without paying for the HTTP stack)."""

from __future__ import annotations

import ipaddress
from typing import Final
from urllib.parse import urlsplit

from ..errors import UsageError

DEFAULT_BASE_URL: Final = "https://api.imagekit.io"


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
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"base URL {base_url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise UsageError("base URL must not contain credentials; the key is sent separately")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing to send the private key over plain http to {parts.hostname}; "
            "use https, or pass --allow-insecure-http if you really mean it"
        )
    return base_url.rstrip("/")
