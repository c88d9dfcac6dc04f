"""bulkdel sends only the query syntax ImageKit documents, and the fake refuses the rest.

The fake server answers undocumented syntax (a millisecond or ``Z`` date literal, an unknown
field or operator) with ImageKit's 400 shape, so any listing test fails if bulkdel ever
sends one; these tests check the fake's side and the pager's handling of the 400.
"""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from aiohttp import web

from bulkdel.delete.deleter import BulkDeleter, delete_files
from bulkdel.errors import QueryRefusedError, UsageError
from bulkdel.imagekit import ListingClient
from bulkdel.listing.host import StandaloneHost
from bulkdel.listing.pager import Listing
from bulkdel.listing.selection import Selection
from bulkdel.models import AbortReason, Settings
from bulkdel.record.report import format_text
from bulkdel.testing import FakeFile, FakeImageKit, seed_files
from bulkdel.testing.fake_listing import QueryError, parse_query
from tests.helpers import KEY, MakeFake, closed_port

NOW = dt.datetime(2026, 8, 31, 12, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "query",
    [
        'createdAt < "2026-01-01T00:00:00.000Z"',
        'createdAt < "2026-01-01T00:00:00.123"',
        'createdAt < "2026-01-01T00:00:00Z"',
        'createdAt < "2026-01-01T00:00:00+00:00"',
        'createdAt < "6min"',
        'createdAt < "30s"',
        'createdAt IN ["2026-01-01"]',
        'fileId = "abc"',
        'colour = "red"',
        'tags = "x"',
        'path IN ["/a/"]',
        'path < "/a/"',
        'name NOT : "x"',
        'type = "image"',
        "height > 10",
        '"customMetadata.x" = "y"',
    ],
)
def test_fake_refuses_undocumented_syntax(query: str) -> None:
    """Milliseconds, Z, offsets, unknown units, fields and operators are refused."""
    with pytest.raises(QueryError):
        parse_query(query, NOW)


def test_fake_reads_documented_syntax() -> None:
    """Second and day literals, relative h/d/w/m(onths)/y, type, path, tags, size units."""
    old = FakeFile("1" * 24, "/a/b/old.jpg", dt.datetime(2026, 2, 27, tzinfo=dt.UTC), 2048)
    new = FakeFile("2" * 24, "/a/new.jpg", dt.datetime(2026, 8, 30, tzinfo=dt.UTC), 10)

    def matches(query: str) -> set[str]:
        test = parse_query(query, NOW)
        return {f.name for f in (old, new) if test(f)}

    assert matches('createdAt < "2026-03-01T00:00:00"') == {"old.jpg"}
    assert matches('createdAt >= "2026-08-30"') == {"new.jpg"}
    assert matches('createdAt < "6m"') == {"old.jpg"}  # six months, not six minutes
    assert matches('createdAt < "5m"') == {"old.jpg"}
    assert matches('createdAt < "7m"') == set()
    assert matches('createdAt > "1y" AND createdAt < "12h"') == {"old.jpg", "new.jpg"}
    assert matches('createdAt > "2d"') == {"new.jpg"}
    assert matches('createdAt < "1w"') == {"old.jpg"}
    assert matches('type = "file" AND path = "/a/"') == {"new.jpg"}
    assert matches('type IN ["folder"]') == set()
    assert matches('type NOT = "file"') == set()
    assert matches('size >= "2kb"') == {"old.jpg"}
    assert matches('name NOT IN ["new.jpg"] AND createdAt NOT = "2026-01-01"') == {"old.jpg"}


async def test_fake_answers_imagekits_400_shape() -> None:
    """A refused query is a 400 with ImageKit's {"message", "help"} body."""
    async with (
        FakeImageKit(KEY, files=seed_files({"/a/": 3})) as server,
        aiohttp.ClientSession() as http,
    ):
        client = ListingClient(KEY, base_url=server.url, session=http)
        answer = await client.exchange(
            "GET",
            server.url + "/v1/files",
            params={"searchQuery": 'createdAt < "2026-01-01T00:00:00.000Z"'},
        )
    assert not isinstance(answer, Exception) and isinstance(answer, tuple)
    status, body, _ = answer
    assert status == 400
    assert b'"message": "Invalid date' in body and b'"help": ' in body


async def test_every_query_the_pager_sends_is_documented(make_fake: MakeFake) -> None:
    """Listing with every selector, across seconds and a tie group, sends nothing the fake
    refuses; each query has type = "file" and second-precision literals only."""
    files = seed_files({"/a/": 1500, "/a/b/": 500}, start=T0, step=dt.timedelta(milliseconds=1))
    files = [FakeFile(f.file_id, f.file_path, f.created_at, f.size, ("x",)) for f in files]
    queries: list[str] = []
    server = await make_fake(files=files)
    original = server._answer_list

    async def spy(request: web.Request) -> web.StreamResponse:
        queries.append(request.query["searchQuery"])
        return await original(request)

    server._answer_list = spy  # type: ignore[method-assign]
    selection = Selection(path="/a/", recursive=True, older_than="1d", tags=("x",))
    listing = Listing(ListingClient(KEY, base_url=server.url), selection, now=NOW)
    seen = [e["fileId"] async for page in listing.entries(StandaloneHost(Settings())) for e in page]
    await listing.close()
    assert sorted(seen) == sorted(f.file_id for f in files)
    assert listing.tie_groups >= 1
    assert all(q.startswith('type = "file" AND path : "/a/"') for q in queries)
    assert not any(".000" in q or 'Z"' in q for q in queries)


async def test_a_400_names_the_query_and_says_first_page(make_fake: MakeFake) -> None:
    """A query ImageKit refuses raises QueryRefusedError naming it; the first page is flagged."""
    server = await make_fake(files=seed_files({"/a/": 3}))
    selection = Selection(path="/a/", search_query='colour = "red"')
    listing = Listing(ListingClient(KEY, base_url=server.url), selection, now=NOW)
    with pytest.raises(QueryRefusedError) as caught:
        async for _ in listing.entries(StandaloneHost(Settings(base_url=server.url))):
            pass
    await listing.close()
    assert caught.value.first_page and caught.value.status == 400 and caught.value.fatal
    assert 'colour = "red"' in str(caught.value) and "unknown field" in str(caught.value)


async def test_a_refused_query_on_the_first_page_deletes_nothing(make_fake: MakeFake) -> None:
    """Run through the deleter, a first-page 400 stops the run with nothing sent: the reason
    is REFUSED (exit 2) and names the query."""
    files = seed_files({"/a/": 3})
    server = await make_fake(files=files)
    listing = Listing(
        ListingClient(KEY, base_url=server.url),
        Selection(path="/a/", search_query="height > 1"),
    )
    report = await BulkDeleter(KEY, settings=Settings(base_url=server.url)).run(listing=listing)
    assert report.abort is not None and report.abort.reason is AbortReason.REFUSED
    assert report.aborted is not None and "height > 1" in report.aborted
    assert report.exit_code == 2
    assert server.deleted == set() and report.requests.sent == 0


async def test_a_400_after_the_first_page_is_fatal(make_fake: MakeFake) -> None:
    """A 400 once pages have been answered (files may be deleted) is FATAL (exit 3)."""
    files = seed_files({"/a/": 30}, step=dt.timedelta(seconds=1))
    server = await make_fake(files=files)
    original = server._answer_list

    async def refuse_later(request: web.Request) -> web.StreamResponse:
        if "createdAt >=" in request.query["searchQuery"]:
            body = {"message": "Invalid search query.", "help": ""}
            return web.json_response(body, status=400)
        return await original(request)

    server._answer_list = refuse_later  # type: ignore[method-assign]
    selection = Selection(path="/a/")
    listing = Listing(ListingClient(KEY, base_url=server.url), selection, page_size=10)
    report = await BulkDeleter(KEY, settings=Settings(base_url=server.url)).run(listing=listing)
    assert report.abort is not None and report.abort.reason is AbortReason.FATAL
    assert "createdAt >=" in (report.aborted or "") and report.exit_code == 3


async def test_delete_files_takes_a_listing_and_reports_its_selection(make_fake: MakeFake) -> None:
    """delete_files(listing=...) deletes what it selects; summary.json has the selection."""
    files = seed_files({"/a/b/": 20, "/c/": 5})
    server = await make_fake(files=files)
    selection = Selection(path="/a/b/", older_than="1d")
    listing = Listing(ListingClient(KEY, base_url=server.url), selection, now=NOW)
    report = await delete_files(listing=listing, private_key=KEY, base_url=server.url)
    assert server.deleted == {f.file_id for f in files if f.folder == "/a/b/"}
    assert report.summary()["selection"]["cutoff"] == "2026-08-30T12:00:00Z"
    with pytest.raises(UsageError):
        await delete_files(private_key=KEY)


async def test_a_run_that_never_connects_says_so() -> None:
    """Ids sent to a closed port: every request failed to connect; the summary says so."""
    settings = Settings(base_url=f"http://127.0.0.1:{closed_port()}", max_attempts=1)
    report = await BulkDeleter(KEY, settings=settings).run(["a" * 24, "b" * 24])
    assert report.requests.never_connected and report.requests.connect_failures >= 1
    assert "Connect call failed" in report.requests.connect_error
    assert format_text(report).startswith("bulkdel: NO CONNECTION")
