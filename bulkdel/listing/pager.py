"""Page through the files a ``Selection`` selects and stream their ids as chunks.

``Listing`` pages through the selection with the listing client, with turns from the run's
account budget and the same retry policy as deletes (the account's rate limit covers both), and
yields the files as ``Chunk``s for the pipeline.

Paging while deleting: ImageKit's ``skip`` is an offset into the result set as it is at the
time of each request, and the run deletes the files it has listed, so ``skip += limit`` jumps
over as many unseen files as were deleted in between. We page by **keyset on createdAt**
instead (see ``listing_cursor``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.lease import Lease
from ..core.stop import StopSignal
from ..engine.retry import Backoff, Chain, send_with_retries
from ..engine.sources import Chunk, Item
from ..engine.validate import id_problem
from ..errors import ListingError, QueryRefusedError, Stopped, UsageError
from ..imagekit.listing import MAX_PAGE, ListingClient
from ..models import Abort, AbortReason, Kind, Outcome, Settings
from ..record.ledger import LIST, RequestStats
from ..telemetry.observer import Attempt
from .cursor import SECOND, Keyset, created_at, entry_key, is_file
from .selection import Selection, date_literal, to_second


class ListingHost(Protocol):
    """What a listing runs under: the run's settings, clock, budget lease, backoff, stop signal
    and request counts (a ``Pipeline``, or a ``StandaloneHost``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def lease(self) -> Lease: ...

    @property
    def backoff(self) -> Backoff: ...

    @property
    def signal(self) -> StopSignal: ...

    @property
    def requests(self) -> RequestStats: ...

    def stop(self, reason: Abort) -> None: ...


def _and(conditions: Iterable[str]) -> str:
    return " AND ".join(conditions)


class Listing:
    """The files a ``Selection`` selects, paged safely while they are being deleted.

    Files only: every query says ``type = "file"``, never ``file-version`` (which would
    repeat a fileId per version); deleting a fileId removes all its versions anyway.
    ``tags IN [...]`` also matches AI-generated tags (``AITags``): ImageKit's rule.

    Args:
        client: sends the page requests (closed by ``close``).
        selection: the selectors.
        page_size: files a page, 1..1000.
        now: the moment relative ages count back from (default: now). The selection is
            resolved here, once, so that the cutoff a prompt shows is the one the run uses.

    Counters (``pages``, ``requests``, ``retried``, ``files``, ``bytes``) are live;
    requests are counted in the host's ``RequestStats`` (kind ``list``).
    """

    def __init__(
        self,
        client: ListingClient,
        selection: Selection,
        *,
        page_size: int = MAX_PAGE,
        now: dt.datetime | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE:
            raise UsageError(f"page_size must be 1..{MAX_PAGE}, got {page_size}")
        self.client = client
        self.selection = selection
        self.page_size = page_size
        #: the query every page asks, and the cutoff it means
        self.resolved = selection.resolve(now or dt.datetime.now(dt.UTC))
        self.name = f"<listing {selection.describe()}>"
        #: page answers received, files and bytes listed
        self.pages = 0
        self.files = 0
        self.bytes = 0
        #: tie groups of one second too big for a page (paged by offset, see _tie_group)
        self.tie_groups = 0
        #: set to a dict to keep each listed file's ``url`` by id (for per-file CDN purges)
        self.urls: dict[str, str] | None = None
        #: where the listing's requests are counted: its host's, once it runs under one
        self._stats = RequestStats()

    @property
    def requests(self) -> int:
        """Listing requests sent (retries included), as counted in the host's stats."""
        return self._stats.by_kind[LIST]

    @property
    def retried(self) -> int:
        """Listing requests that were retries."""
        return self._stats.retried_by_kind[LIST]

    async def close(self) -> None:
        """Close the client."""
        await self.client.close()

    async def entries(self, host: ListingHost) -> AsyncIterator[list[dict[str, Any]]]:
        """Every selected file exactly once, a page's new files at a time, by keyset paging
        on createdAt at whole seconds (see ``listing_cursor`` for why it is exact while deleting).

        Raises:
            ListingError: a fatal answer, a page that kept failing, or an answer that cannot
                be paged safely (no createdAt, not sorted).
        """
        conditions = list(self.resolved.conditions)
        keyset = Keyset()
        try:
            while True:
                bound = keyset.bound()
                query = _and([*conditions, bound] if bound else conditions)
                page = await self._ask(host, query, 0, "ASC_CREATED")
                fresh = keyset.take(page)
                yield self._counted([entry for entry in fresh if is_file(entry)])
                if len(page) < self.page_size:
                    return
                if not fresh:
                    second = keyset.stuck()
                    async for files in self._tie_group(host, conditions, second, keyset.boundary):
                        yield self._counted(files)
                    keyset.passed()
        except Stopped:
            return  # the run is stopping: the listing ends quietly

    async def _tie_group(
        self,
        host: ListingHost,
        conditions: list[str],
        at: dt.datetime,
        seen: set[str],
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The files created within the second ``at`` that ``seen`` does not hold.

        ``page_size`` or more files share this second, so no keyset on createdAt can split
        them; we page ``createdAt >= at AND createdAt < at + 1s`` by offset (sorted by name)
        and repeat the whole pass until a pass finds nothing new. Offsets shift when files of
        the group are deleted between two pages of a pass, which can make that pass skip
        unseen files; the next pass finds them. The residual risk: an unseen file skipped
        during the very pass that finds nothing new, which needs deletes of this same group
        between that pass's pages. Without deletes (``list``, ``--dry-run``) the first pass
        is exact.
        """
        self.tie_groups += 1
        query = _and(
            [
                *conditions,
                f"createdAt >= {date_literal(at)}",
                f"createdAt < {date_literal(at + SECOND)}",
            ]
        )
        while True:
            found = 0
            skip = 0
            while True:
                page = await self._ask(host, query, skip, "ASC_NAME")
                fresh = [
                    e for e in page if entry_key(e) not in seen and to_second(created_at(e)) == at
                ]
                seen.update(entry_key(e) for e in fresh)
                found += len(fresh)
                yield [entry for entry in fresh if is_file(entry)]
                if len(page) < self.page_size:
                    break
                skip += len(page)
            if not found:
                return

    async def _ask(
        self, host: ListingHost, query: str, skip: int, sort: str
    ) -> list[dict[str, Any]]:
        """One page of ``query``; a 400 becomes a ``QueryRefusedError`` naming the query."""
        first = self.pages == 0
        try:
            return await self._page(host, None, query, skip, sort)
        except ListingError as exc:
            if exc.status != 400:
                raise
            raise QueryRefusedError(str(exc), query=query, first_page=first) from None

    async def _page(
        self, host: ListingHost, path: str | None, query: str, skip: int, sort: str
    ) -> list[dict[str, Any]]:
        params = {"type": "file", "sort": sort, "limit": str(self.page_size), "skip": str(skip)}
        if path is not None:
            params["path"] = path
        if query:
            params["searchQuery"] = query
        settings = host.settings
        self._stats = host.requests
        chain = Chain(budget=settings.max_attempts, started=host.clock.time())
        page: list[list[dict[str, Any]]] = []

        outcome = await send_with_retries(
            _page_attempt(self, host, params, chain, page),
            settings,
            chain=chain,
            clock=host.clock,
            signal=host.signal,
            backoff=host.backoff,
            on_retry=lambda: host.requests.retrying(LIST),
        )
        if outcome.kind is Kind.SUCCESS and page:
            self.pages += 1
            return page[-1]
        host.signal.check()
        if outcome.kind is Kind.FATAL:
            raise ListingError(
                f"HTTP {outcome.status}: {outcome.message}", fatal=True, status=outcome.status
            )
        raise ListingError(
            f"a page failed {chain.failures} times ({chain.throttled} throttled); "
            f"last: {outcome.status or 'no answer'} {outcome.message}",
            fatal=False,
            status=outcome.status,
        )

    async def chunks(self, host: ListingHost) -> AsyncIterator[Chunk]:
        """The selected files' ids as chunks for the pipeline, a page at a time.

        A listing that cannot go on stops the host: ``refused: listing: ...`` for a query
        refused on the first page, ``fatal: listing: ...`` for another fatal answer,
        ``listing failed: ...`` otherwise. The client is closed at the end.
        """
        position = 0
        try:
            async for entries in self.entries(host):
                items: list[Item] = []
                for entry in entries:
                    position += 1
                    items.append(self._item(position, entry))
                if items:
                    # the records as ImageKit returned them: the manifest's lines
                    yield Chunk(self.name, items, entries)
        except QueryRefusedError as exc:
            # A query refused before any page was answered deleted nothing: a usage error.
            reason = AbortReason.REFUSED if exc.first_page else AbortReason.FATAL
            host.stop(Abort(reason, f"listing: {exc}"))
        except ListingError as exc:
            if exc.fatal:
                host.stop(Abort(AbortReason.FATAL, f"listing: {exc}"))
            else:
                host.stop(Abort(AbortReason.LISTING_FAILED, str(exc)))
        finally:
            await self.close()

    def _item(self, position: int, entry: dict[str, Any]) -> Item:
        file_id = entry.get("fileId")
        if not isinstance(file_id, str):
            shown = json.dumps(entry)[:100]
            return (position, shown, "listing entry without a string fileId")
        url = entry.get("url")
        if self.urls is not None and isinstance(url, str):
            self.urls[file_id] = url
        return (position, file_id, id_problem(file_id))

    def _counted(self, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Count the files listed and their bytes: the one size rule for ``list`` and
        ``delete``'s dry run (a number that is not a bool)."""
        self.files += len(files)
        for entry in files:
            size = entry.get("size")
            if isinstance(size, int | float) and not isinstance(size, bool):
                self.bytes += int(size)
        return files


def _page_attempt(
    listing: Listing,
    host: ListingHost,
    params: dict[str, str],
    chain: Chain,
    page: list[list[dict[str, Any]]],
) -> Callable[[], Awaitable[Outcome]]:
    """One try at a page: a turn, the request (counted, and told to the host's observer),
    the answer to the budget; a page that came is put in ``page``."""
    observer = getattr(host, "observer", None)  # a pipeline's (a bare listing has none)
    clock = host.clock.time

    async def attempt() -> Outcome:
        asked = clock()
        turn = await host.lease.turn()
        host.signal.check()
        host.requests.sending(LIST)
        sent = clock()
        outcome, entries = await listing.client.get_page(params)
        host.requests.answered(LIST, outcome.status)
        if observer is not None:
            resent = chain.failures + chain.throttled
            observer.attempt(
                host, Attempt(LIST, "GET", outcome, clock() - sent, sent - asked, resent, 0)
            )
        await host.lease.observe(turn, outcome)
        if entries is not None:
            page.append(entries)
        return outcome

    return attempt
