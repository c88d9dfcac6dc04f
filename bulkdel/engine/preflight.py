"""The preflight: one cheap authenticated request before a run reads any input.

``GET /v1/files?limit=1`` (one listing page of one file) checks at once the key (401/403),
the base URL (DNS, connection refused, a 404 or an answer that is not ImageKit's) and TLS.
A run that would fail on every request fails here instead, in a second, with a message that
names the URL and the cause, and before anything is read or sent. Keys that may not list
files can skip it (the CLI's ``--no-preflight``).
"""

from __future__ import annotations

from typing import Final

from ..core.clock import LOOP_CLOCK, Clock
from ..errors import FatalAPIError, UnreachableError
from ..imagekit import LIST_PATH, ListingClient
from ..models import Kind, Outcome

#: answers tried before giving up on a server that answers 5xx, 429 or times out
ATTEMPTS: Final = 3
#: longest wait between two attempts, seconds (a 429 may ask for minutes: not worth it here)
MAX_WAIT: Final = 10.0


async def preflight(client: ListingClient, *, clock: Clock = LOOP_CLOCK) -> None:
    """Check the key, base URL and TLS with one listing page of one file.

    A failure to connect (DNS, refused, TLS) is not retried: it says the URL is wrong, not
    that the server is busy. 5xx, 429 and timeouts are tried ``ATTEMPTS`` times.

    Raises:
        UnreachableError: no connection could be made, or no answer came.
        FatalAPIError: 401/403 (the key), 404 or a non-ImageKit answer (the base URL), or
            an answer that stayed an error.
    """
    url = client.base_url + LIST_PATH
    outcome: Outcome | None = None
    for attempt in range(ATTEMPTS):
        if attempt:
            wait = outcome.retry_after if outcome and outcome.retry_after else 2.0**attempt / 2
            await clock.sleep(min(wait, MAX_WAIT))
        outcome, _ = await client.get_page({"limit": "1"})
        if outcome.kind is Kind.SUCCESS:
            return
        if outcome.status is None and not outcome.maybe_applied:
            raise UnreachableError(url, outcome.message)  # never connected
        if outcome.kind not in (Kind.TRANSIENT, Kind.THROTTLED):
            break
    assert outcome is not None
    if outcome.status is None:
        raise UnreachableError(url, f"{outcome.message} ({ATTEMPTS} attempts)")
    hint = " (check the private key)" if outcome.status in (401, 403) else ""
    if outcome.status == 200:
        hint = " (is the base URL ImageKit's API?)"
    raise FatalAPIError(
        outcome.status, f"preflight (a one-file listing page) GET {url}: {outcome.message}{hint}"
    )
