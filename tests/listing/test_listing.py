"""Listing sources: selectors to searchQuery, the listing client, keyset paging while deleting,
and the fake server's listing endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bulkdel.delete.deleter import BulkDeleter
from bulkdel.errors import ListingError, UsageError
from bulkdel.imagekit import DeleteClient, ListingClient, classify_listing
from bulkdel.listing.host import StandaloneHost
from bulkdel.listing.pager import Listing
from bulkdel.listing.selection import Selection
from bulkdel.models import Kind, Settings
from bulkdel.testing import FakeFile, FakeImageKit, seed_files
from bulkdel.testing.fake_listing import QueryError, parse_query, query_floor
from tests.helpers import KEY, MakeFake

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def listing_for(server: FakeImageKit, selection: Selection, page_size: int = 1000) -> Listing:
    return Listing(ListingClient(KEY, base_url=server.url), selection, page_size=page_size)


async def delete_ids(server: FakeImageKit, ids: list[str]) -> None:
    """Delete through the real delete endpoint, 100 ids a request."""
    async with DeleteClient(KEY, base_url=server.url) as client:
        for start in range(0, len(ids), 100):
            outcome = await client.delete_batch(ids[start : start + 100])
            assert outcome.kind is Kind.SUCCESS, outcome


async def list_all(
    server: FakeImageKit, selection: Selection, page_size: int = 1000, *, delete: bool = False
) -> list[str]:
    """Every id a Listing yields; with ``delete``, each page is deleted before the next."""
    listing = listing_for(server, selection, page_size)
    host = StandaloneHost(Settings(base_url=server.url))
    seen: list[str] = []
    try:
        async for entries in listing.entries(host):
            ids = [e["fileId"] for e in entries]
            seen.extend(ids)
            if delete and ids:
                await delete_ids(server, ids)
    finally:
        await listing.close()
    return seen


async def naive_offset_listing(server: FakeImageKit, selection: Selection, limit: int) -> list[str]:
    """What a client paging with ``skip += limit`` sees when it deletes each page first."""
    query = selection.resolve(NOW).query
    seen: list[str] = []
    skip = 0
    async with aiohttp.ClientSession() as session:
        while True:
            params = {"sort": "ASC_CREATED", "skip": str(skip), "limit": str(limit)}
            params["searchQuery"] = query
            async with session.get(
                server.url + "/v1/files",
                params=params,
                headers={"Authorization": DeleteClient(KEY)._auth},
            ) as response:
                page: list[dict[str, Any]] = await response.json()
            ids = [e["fileId"] for e in page]
            seen.extend(ids)
            if ids:
                await delete_ids(server, ids)
            if len(page) < limit:
                return seen
            skip += limit


# -- selectors ------------------------------------------------------------------------------


def test_selection_builds_one_documented_search_query() -> None:
    """Selectors become AND-ed searchQuery conditions in documented syntax only: type = "file"
    first (ImageKit ignores the type parameter beside a searchQuery), dates to the second."""
    assert Selection(path="/tmp").resolve(NOW).conditions == ('type = "file"', 'path = "/tmp/"')
    resolved = Selection(
        path="/a/",
        recursive=True,
        search_query='name : "x"',
        older_than="90d",
        created_before="2024-12-01",
        tags=("expired", 'we"ird'),
    ).resolve(NOW)
    assert resolved.conditions == (
        'type = "file"',
        'path : "/a/"',
        '(name : "x")',
        'createdAt < "2024-10-03T00:00:00"',
        'tags IN ["expired"]',
        'tags IN ["we\\"ird"]',
    )
    assert Selection(path="/", recursive=True).resolve(NOW).conditions == ('type = "file"',)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"recursive": True},
        {"path": "a/"},
        {"older_than": "90"},
        {"older_than": "0d"},
        {"created_before": "yesterday"},
        {"search_query": "  "},
        {"tags": ("",)},
    ],
)
def test_selection_refuses_bad_selectors(kwargs: dict[str, Any]) -> None:
    """No selector, --recursive alone, a relative path, bad durations and dates are usage errors."""
    with pytest.raises(UsageError):
        Selection(**kwargs)


def test_classify_listing_answers() -> None:
    """Only a JSON array in a 200 is a page; 429 throttles; 400/401/403/404 are fatal."""
    outcome, page = classify_listing(200, b'[{"fileId": "a"}]', {})
    assert outcome.kind is Kind.SUCCESS and page == [{"fileId": "a"}]
    for body in (b'{"files": []}', b"<html>", b"", b"[1, 2]"):
        outcome, page = classify_listing(200, body, {})
        assert outcome.kind is Kind.TRANSIENT and page is None, body
    outcome, _ = classify_listing(429, b"{}", {"X-RateLimit-Reset": "1500"})
    assert outcome.kind is Kind.THROTTLED and outcome.retry_after == 1.5
    for status in (400, 401, 403, 404):
        assert classify_listing(status, b'{"message": "no"}', {})[0].kind is Kind.FATAL
    assert classify_listing(503, b"", {})[0].kind is Kind.TRANSIENT


# -- the fake server's query subset ------------------------------------------------------------


def test_fake_query_subset() -> None:
    """path =/:, name :, tags IN, createdAt comparisons (ISO and relative), AND/OR/NOT, ()."""
    old = FakeFile("1" * 24, "/a/b/old.jpg", NOW - dt.timedelta(days=100), tags=("expired",))
    new = FakeFile("2" * 24, "/a/new.png", NOW - dt.timedelta(days=1), size=5)

    def matches(query: str) -> set[str]:
        test = parse_query(query, NOW)
        return {f.name for f in (old, new) if test(f)}

    assert matches('path = "/a/"') == {"new.png"}
    assert matches('path : "/a"') == {"old.jpg", "new.png"}
    assert matches('name : "ol"') == {"old.jpg"}
    assert matches('tags IN ["expired", "x"]') == {"old.jpg"}
    assert matches('createdAt < "90d"') == {"old.jpg"}
    assert matches('createdAt >= "2024-12-01"') == {"new.png"}
    assert matches('path : "/a/" AND (size < 10 OR tags IN ["expired"])') == {"old.jpg", "new.png"}
    assert matches('name NOT = "old.jpg"') == {"new.png"}
    x = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    floors = {
        'name : "f" AND createdAt >= "2024-06-01"': x,
        'createdAt > "2024-01-01" AND createdAt >= "2024-06-01"': x,
        'name : "f" OR createdAt >= "2024-06-01"': None,
        '(createdAt >= "2024-06-01" OR size > 1) AND name : "f"': None,
        'createdAt NOT = "2024-06-01"': None,
        'createdAt < "2024-06-01"': None,
    }
    for query, floor in floors.items():
        assert query_floor(query, NOW)[1] == floor, query
    for bad in ('colour = "red"', 'name = "x" AND', "(name", 'createdAt : "x"', "size < 1 2"):
        with pytest.raises(QueryError):
            parse_query(bad, NOW)


async def test_fake_listing_endpoint_pages_the_live_set() -> None:
    """GET /v1/files pages by offset over the live set; deletes leave it; bad input is a 400."""
    files = seed_files({"/a/": 30})
    async with (
        FakeImageKit(KEY, files=files) as server,
        aiohttp.ClientSession(headers={"Authorization": DeleteClient(KEY)._auth}) as http,
    ):
        url = server.url + "/v1/files"
        async with http.get(url, params={"limit": "10", "skip": "10"}) as response:
            page = await response.json()
        assert [e["fileId"] for e in page] == [f.file_id for f in files[10:20]]
        await delete_ids(server, [f.file_id for f in files[:10]])
        async with http.get(url, params={"limit": "10", "skip": "10"}) as response:
            page = await response.json()
        assert [e["fileId"] for e in page] == [f.file_id for f in files[20:30]]
        for params in ({"limit": "1001"}, {"skip": "-1"}, {"searchQuery": "nonsense"}):
            async with http.get(url, params=params) as response:
                assert response.status == 400, params
        async with aiohttp.ClientSession() as anonymous, anonymous.get(url) as response:
            assert response.status == 401


# -- paging --------------------------------------------------------------------------------------


async def test_naive_offset_paging_misses_files_and_keyset_does_not(make_fake: MakeFake) -> None:
    """skip += limit while deleting skips files on the fake (as on ImageKit); keyset does not."""
    selection = Selection(path="/a/")
    server = await make_fake(files=seed_files({"/a/": 3000}))
    naive = await naive_offset_listing(server, selection, 1000)
    assert len(naive) == 2000, "naive paging should have missed a third of the files"
    assert len(server.store) == 1000
    files = seed_files({"/a/": 3000})
    server = await make_fake(files=files)
    seen = await list_all(server, selection, delete=True)
    assert sorted(seen) == sorted(f.file_id for f in files)
    assert len(server.store) == 0


async def test_listing_cursor_sees_files_added_while_listing(make_fake: MakeFake) -> None:
    """Files uploaded during the run (later createdAt) are listed when they match, once."""
    files = seed_files({"/a/": 2500, "/c/": 500})
    late = seed_files({"/a/": 700, "/c/": 100}, start=T0 + dt.timedelta(days=1), first_id=10**6)
    added = list(late)
    server = await make_fake(files=files)
    listing = listing_for(server, Selection(path="/a/"), 1000)
    host = StandaloneHost(Settings(base_url=server.url))
    seen: list[str] = []
    async for entries in listing.entries(host):
        seen.extend(e["fileId"] for e in entries)
        await delete_ids(server, [e["fileId"] for e in entries])
        if late:
            server.store.add(late)
            server.existing = (server.existing or set()) | {f.file_id for f in late}
            late = []
    await listing.close()
    expected = [f.file_id for f in files if f.folder == "/a/"]
    expected += [f.file_id for f in added if f.folder == "/a/"]
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted(expected)
    assert {f.folder for f in server.store.files.values()} == {"/c/"}


@pytest.mark.parametrize("lag", [None, 0, 2])
async def test_more_files_in_one_millisecond_than_a_page(
    lag: int | None, make_fake: MakeFake
) -> None:
    """2,500 files sharing one createdAt (plus files around them) are each listed once, with
    no deletes, each page deleted at once, or deletes lagging two pages behind the listing."""
    before = seed_files({"/a/": 300}, start=T0)
    tie = [
        FakeFile(f"{i:024x}", f"/a/bulk-{i}.jpg", T0 + dt.timedelta(seconds=5))
        for i in range(10_000, 12_500)
    ]
    after = seed_files({"/a/": 300}, start=T0 + dt.timedelta(seconds=6), first_id=20_000)
    files = before + tie + after
    server = await make_fake(files=files)
    listing = listing_for(server, Selection(path="/a/"), 1000)
    host = StandaloneHost(Settings(base_url=server.url))
    seen: list[str] = []
    pages: list[list[str]] = []
    async for entries in listing.entries(host):
        seen.extend(e["fileId"] for e in entries)
        pages.append([e["fileId"] for e in entries])
        if lag is not None and len(pages) > lag:
            await delete_ids(server, pages[-1 - lag])
    await listing.close()
    assert len(seen) == len(set(seen)) == len(files)
    assert set(seen) == {f.file_id for f in files}
    # Deleting each page at once keeps the keyset moving; otherwise the fallback runs.
    assert (listing.tie_groups > 0) == (lag != 0)


async def test_unreadable_page_is_retried_never_the_end(make_fake: MakeFake) -> None:
    """A 200 that is not a JSON array is retried, and the listing goes on after it."""
    files = seed_files({"/a/": 50})
    server = await make_fake(files=files)
    original = server._answer_list
    answers = iter([b'{"message": "upstream glitch"}', b"<html>oops</html>"])

    async def glitchy(request: web.Request) -> web.StreamResponse:
        body = next(answers, None)
        if body is not None:
            return web.Response(status=200, body=body)
        return await original(request)

    server._answer_list = glitchy  # type: ignore[method-assign]
    settings = Settings(base_url=server.url, backoff_base=0.001, backoff_max=0.001)
    listing = listing_for(server, Selection(path="/a/"))
    host = StandaloneHost(settings)
    seen = [e["fileId"] async for page in listing.entries(host) for e in page]
    await listing.close()
    assert sorted(seen) == [f.file_id for f in files]
    assert listing.retried == 2 and listing.requests == 3


async def test_forbidden_listing_is_fatal() -> None:
    """A 403 to a listing request raises a fatal ListingError at once."""
    async with FakeImageKit("another_key_0123456789", files=seed_files({"/a/": 5})) as server:
        listing = listing_for(server, Selection(path="/a/"))
        with pytest.raises(ListingError) as caught:
            async for _ in listing.entries(StandaloneHost(Settings(base_url=server.url))):
                pass
        await listing.close()
        assert caught.value.fatal and caught.value.status == 403
        assert listing.requests == 1


# -- the listing as the pipeline's source --------------------------------------------------------


class _SpyClient(ListingClient):
    """A listing client noting how many ids the run had deleted at each page request."""

    __slots__ = ("deleted_at_request", "deleter")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deleter: BulkDeleter | None = None
        self.deleted_at_request: list[int] = []

    async def get_page(self, params: dict[str, str]) -> Any:
        assert self.deleter is not None
        self.deleted_at_request.append(self.deleter.counts.deleted)
        return await super().get_page(params)


async def test_delete_listed_files_streams_and_shares_the_throttle(make_fake: MakeFake) -> None:
    """Deletes start before the listing ends; a listing 429 goes through the run's throttle."""
    # 100 uploads a second: a page's boundary second holds a few files, not most of a page
    files = seed_files(
        {"/a/": 5000, "/a/b/": 1000, "/c/": 1000}, step=dt.timedelta(milliseconds=10)
    )
    server = await make_fake(files=files)
    original = server._answer_list
    throttled_once: list[bool] = []

    async def throttle_first(request: web.Request) -> web.StreamResponse:
        if not throttled_once:
            throttled_once.append(True)
            return web.json_response(
                {"message": "Too many requests."},
                status=429,
                headers={"X-RateLimit-Reset": "50", "X-RateLimit-Limit": "1000"},
            )
        return await original(request)

    server._answer_list = throttle_first  # type: ignore[method-assign]
    client = _SpyClient(KEY, base_url=server.url)
    listing = Listing(client, Selection(path="/a/", recursive=True))
    deleter = client.deleter = BulkDeleter(KEY, settings=Settings(base_url=server.url))
    report = await deleter.run(listing=listing)
    assert report.complete, report.aborted
    assert report.counts.deleted == 6000
    assert server.deleted == {f.file_id for f in files if f.folder.startswith("/a/")}
    # The pool holds far fewer than 6,000 ids, so the last page cannot be asked for
    # before deletes have freed room: listing and deleting overlap.
    assert client.deleted_at_request[-1] > 0
    assert deleter.pipeline is not None
    # the listing's 429 was retried once, and paced the account's budget
    assert deleter.pipeline.requests.retried_by_kind["list"] == 1
    assert deleter.pipeline.budget.rate is not None
    assert listing.requests == listing.pages + 1 == 8


async def test_fatal_listing_stops_the_run() -> None:
    """A listing answered 403 stops the run with a 'fatal: listing' reason (exit 3)."""
    async with FakeImageKit("another_key_0123456789", files=seed_files({"/a/": 5})) as server:
        listing = listing_for(server, Selection(path="/a/"))
        report = await BulkDeleter(KEY, settings=Settings(base_url=server.url)).run(listing=listing)
        assert report.aborted is not None and report.aborted.startswith("fatal: listing")
        assert report.exit_code == 3
