"""The preflight on the command line: checked before any input is read (``--no-preflight``,
defined in ``args``)."""

from __future__ import annotations

from ..engine.preflight import preflight
from ..imagekit import ListingClient
from ..models import Settings


async def check_api(settings: Settings, private_key: str | None, *, skip: bool) -> None:
    """Run the preflight unless skipped or nothing will be sent (no key: a dry run of files).

    Raises:
        UnreachableError: DNS, connection refused or TLS (the CLI exits 3).
        FatalAPIError: a bad key or a base URL that is not ImageKit's (exit 3).
    """
    if skip or private_key is None:
        return
    async with ListingClient.for_settings(private_key, settings) as client:
        await preflight(client)
