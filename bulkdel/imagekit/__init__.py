"""Everything that talks HTTP to ImageKit: the shared connection, the delete, listing and
purge clients, and the one place that reads answers."""

from __future__ import annotations

from .answers import classify, parse_wait
from .connection import DEFAULT_BASE_URL, ApiConnection, check_base_url, is_loopback_host
from .delete import DELETE_PATH, ImageKitClient
from .listing import LIST_PATH, MAX_PAGE, ListingClient, classify_listing
from .purge import PURGE_PATH, PurgeClient, classify_purge

__all__ = [
    "DEFAULT_BASE_URL",
    "DELETE_PATH",
    "LIST_PATH",
    "MAX_PAGE",
    "PURGE_PATH",
    "ApiConnection",
    "ImageKitClient",
    "ListingClient",
    "PurgeClient",
    "check_base_url",
    "classify",
    "classify_listing",
    "classify_purge",
    "is_loopback_host",
    "parse_wait",
]
