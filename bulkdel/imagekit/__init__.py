"""Everything that talks HTTP to ImageKit: the shared connection, the delete, listing and
purge clients, and the one place that reads answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_getattr
from .urls import DEFAULT_BASE_URL, check_base_url, is_loopback_host

if TYPE_CHECKING:
    from .answers import classify, parse_wait
    from .connection import ApiConnection
    from .delete import DELETE_PATH, DeleteClient
    from .delete import ImageKitClient as ImageKitClient  # the old name, not in __all__
    from .listing import LIST_PATH, MAX_PAGE, ListingClient, classify_listing
    from .purge import PURGE_PATH, PurgeClient, classify_purge

#: where each export lives: imported on first use, so that the command line can build its
#: options (the base URL) without importing aiohttp
_LAZY: dict[str, str] = {
    "ApiConnection": ".connection",
    "DELETE_PATH": ".delete",
    "DeleteClient": ".delete",
    "ImageKitClient": ".delete",
    "LIST_PATH": ".listing",
    "MAX_PAGE": ".listing",
    "ListingClient": ".listing",
    "classify": ".answers",
    "classify_listing": ".listing",
    "parse_wait": ".answers",
    "PURGE_PATH": ".purge",
    "PurgeClient": ".purge",
    "classify_purge": ".purge",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "DEFAULT_BASE_URL",
    "DELETE_PATH",
    "LIST_PATH",
    "MAX_PAGE",
    "PURGE_PATH",
    "ApiConnection",
    "DeleteClient",
    "ListingClient",
    "PurgeClient",
    "check_base_url",
    "classify",
    "classify_listing",
    "classify_purge",
    "is_loopback_host",
    "parse_wait",
]
