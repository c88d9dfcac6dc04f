"""Purging ImageKit's CDN cache after a delete: which URLs, the wildcard rule, the wait.

Deleting a file does not purge the CDN, which may go on serving it until its cache expires.
Purges are asynchronous and count against a monthly quota (1000 requests a month in
ImageKit's docs), so bulkdel purges one wildcard per folder (``<url endpoint>/a/b/*``) unless
asked to purge file by file, and never more files than a limit.

The wildcard rule (ImageKit's): a trailing ``*`` is accepted when the path after the URL
endpoint has two levels or more, or 15 characters or more. We count the folder without its
leading and trailing slash (``/a/b/`` is ``a/b``: two levels, 3 characters), which is the
stricter reading where the docs leave it open. ``/media/catalog/*`` and ``/s/files/*`` are
never accepted. The wildcard also covers the folder's sub-folders (it is a URL prefix):
purging a file that still exists only makes the CDN fetch it again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote, urlsplit

from ..core.clock import LOOP_CLOCK, Clock
from ..errors import UsageError
from ..models import Kind, Outcome
from ..record.report import write_json_atomic

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tenacity import AsyncRetrying, RetryCallState

    from ..core.lease import Lease
    from ..imagekit.purge import PurgeClient
    from ..listing.pager import Listing, ListingHost

    Answer = tuple[Outcome, str | None]

#: ImageKit's documented monthly purge quota (dashboard and API together)
MONTHLY_QUOTA: Final = 1000
#: wildcard paths ImageKit never accepts
_NEVER: Final = ("media/catalog", "s/files")
_RETRYABLE: Final = frozenset({Kind.TRANSIENT, Kind.THROTTLED})

Mode = Literal["folders", "files"]


def check_url_endpoint(url: str) -> str:
    """``url`` (like ``https://ik.imagekit.io/your_id``) without a trailing slash.

    Raises:
        UsageError: not an http(s) URL, or it has a query or fragment.
    """
    try:
        parts = urlsplit(url.strip())
        usable = parts.scheme in ("http", "https") and bool(parts.hostname) and not parts.query
        parts.port  # noqa: B018 - raises for a port that is not a number in range
    except ValueError:
        usable = False
    if not usable:
        raise UsageError(
            f"url_endpoint takes your ImageKit URL endpoint like "
            f"https://ik.imagekit.io/your_imagekit_id, got {url!r}",
            "url_endpoint",
        )
    return url.strip().rstrip("/")


def wildcard_refusal(folder: str) -> str | None:
    """Why ImageKit would refuse a wildcard purge of ``folder``, or None."""
    inner = folder.strip("/")
    levels = [part for part in inner.split("/") if part]
    if not inner:
        return "a wildcard purge of the whole library is not accepted by ImageKit"
    if any(inner == never or inner.startswith(never + "/") for never in _NEVER):
        return f"ImageKit never accepts a wildcard purge under /{inner}/"
    if len(levels) < 2 and len(inner) < 15:
        return (
            f"ImageKit accepts a trailing * only for a path of two levels or more, or of 15 "
            f"characters or more; /{inner}/ has one level and {len(inner)} characters"
        )
    return None


def folder_purge_url(url_endpoint: str, folder: str) -> str:
    """The wildcard URL that purges ``folder``: ``<url endpoint>/a/b/*``.

    Raises:
        UsageError: ImageKit would refuse it; the message says why.
    """
    problem = wildcard_refusal(folder)
    if problem is not None:
        raise UsageError(f"cannot purge {folder} from the CDN: {problem}")
    inner = folder.strip("/")
    return f"{url_endpoint.rstrip('/')}/{quote(inner, safe='/')}/*"


@dataclass
class PurgeRecord:
    """One purge request and what became of it."""

    url: str
    request_id: str | None = None
    #: ``Pending``/``Completed`` (the server's), or ``failed`` (never accepted)
    status: str = "failed"
    error: str | None = None
    #: status requests sent for it
    polls: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The record's entry in ``purge.json``."""
        return {
            "url": self.url,
            "requestId": self.request_id,
            "status": self.status,
            "polls": self.polls,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class PurgeResult:
    """What a run purged: written as ``purge.json`` and counted in ``summary.json``."""

    mode: Mode
    records: list[PurgeRecord] = field(default_factory=list)
    #: why nothing was purged, when bulkdel refused to
    refused: str | None = None

    def counts(self) -> dict[str, Any]:
        """Requests sent (they count against the monthly quota) and how they ended."""
        statuses = [r.status for r in self.records]
        return {
            "mode": self.mode,
            "requests": sum(r.request_id is not None for r in self.records),
            "completed": statuses.count("Completed"),
            "pending": statuses.count("Pending"),
            "failed": statuses.count("failed"),
            "refused": self.refused,
        }

    def as_dict(self) -> dict[str, Any]:
        """``purge.json``'s content."""
        return {
            **self.counts(),
            "monthly_quota": MONTHLY_QUOTA,
            "purges": [r.as_dict() for r in self.records],
        }

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write ``purge.json`` into ``directory`` (atomically, private); returns its path."""
        path = Path(directory) / "purge.json"
        write_json_atomic(path, self.as_dict())
        return path


def _retrying(clock: Clock, attempts: int) -> AsyncRetrying:
    from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt  # first use only

    def wait(state: RetryCallState) -> float:
        assert state.outcome is not None
        outcome: Outcome = state.outcome.result()[0]
        if outcome.retry_after is not None:
            return min(outcome.retry_after, 60.0)
        return float(2 ** (state.attempt_number - 1))

    return AsyncRetrying(
        sleep=clock.sleep,
        stop=stop_after_attempt(attempts),
        wait=wait,
        retry=retry_if_result(lambda answer: answer[0].kind in _RETRYABLE),
        # out of attempts: the last answer, not a RetryError
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
    )


async def _take_turn(
    lease: Lease | None, send: Callable[[str], Awaitable[Answer]], arg: str
) -> Answer:
    """One request to the account, on its turn from ``lease`` (as every other request is),
    its answer told to the budget; sent at once without a lease."""
    if lease is None:
        return await send(arg)
    turn = await lease.turn()
    answer = await send(arg)
    await lease.observe(turn, answer[0])
    return answer


async def _submit(
    client: PurgeClient, record: PurgeRecord, clock: Clock, attempts: int, lease: Lease | None
) -> None:
    answer: Answer = await _retrying(clock, attempts)(_take_turn, lease, client.submit, record.url)
    outcome, request_id = answer
    if request_id is None:
        record.error = outcome.message or f"HTTP {outcome.status}"
    else:
        record.request_id, record.status = request_id, "Pending"


async def purge_urls(
    client: PurgeClient,
    urls: Iterable[str],
    *,
    clock: Clock = LOOP_CLOCK,
    max_wait: float = 180.0,
    poll_max: float = 10.0,
    attempts: int = 3,
    lease: Lease | None = None,
) -> list[PurgeRecord]:
    """Purge each URL, then poll the requests until every one is ``Completed`` or
    ``max_wait`` seconds (on ``clock``) have passed; the records say how each ended.

    Polls go out at once, then 1, 2, 4... seconds apart, ``poll_max`` at most (status
    requests do not count against the purge quota). Never raises for API trouble: a purge
    that is refused or keeps failing is a record with ``status: failed`` and the error; one
    not completed in time stays ``Pending``.

    Every request (each purge, each retry, each status poll) waits for its turn from
    ``lease`` (the account's budget, shared with the deletes and listings of the account)
    and tells it the answer, so that purges spend the account's rate limit as one client
    with the rest; without a lease they go as fast as they are answered.

    Raises:
        Stopped: the lease's stop signal was set while waiting for a turn.
    """
    records = [PurgeRecord(url) for url in urls]
    for record in records:
        await _submit(client, record, clock, attempts, lease)
    started = clock.time()
    pause = 0.0
    while pending := [r for r in records if r.status == "Pending"]:
        if pause:
            if clock.time() - started + pause > max_wait:
                break
            await clock.sleep(pause)
        pause = min(max(1.0, 2 * pause), poll_max)
        for record in pending:
            assert record.request_id is not None
            record.polls += 1
            outcome, status = await _take_turn(lease, client.status, record.request_id)
            if status is not None:
                record.status = status
            elif outcome.kind not in _RETRYABLE:
                record.status, record.error = "failed", outcome.message
    return records


def file_urls(
    deleted: Sequence[str], urls: dict[str, str], limit: int
) -> tuple[list[str], str | None]:
    """The URLs of the ``deleted`` files, and why none are purged if they are too many.

    Args:
        deleted: ids the run deleted.
        urls: each listed file's ``url``, by id.
        limit: most files purged one by one (``--purge-limit``).
    """
    wanted = [urls[file_id] for file_id in deleted if file_id in urls]
    if len(wanted) > limit:
        return [], (
            f"{len(wanted):,} files deleted, above the limit of {limit:,} purged one by one: "
            "none purged (each purge counts against the monthly quota); purge their folder instead"
        )
    return wanted, None


async def count_up_to(listing: Listing, host: ListingHost, at_most: int) -> int:
    """How many files ``listing`` selects, counting no further than ``at_most + 1`` (so
    that a selection above ``--purge-limit`` is refused before anything is deleted). Give it
    a listing of its own, with ``page_size`` ``at_most + 1`` (up to 1000): one request then
    answers for any limit under 1000. Closes the listing.

    Raises:
        ListingError: the listing cannot go on.
    """
    count = 0
    try:
        async for files in listing.entries(host):
            count += len(files)
            if count > at_most:
                break
    finally:
        await listing.close()
    return count
