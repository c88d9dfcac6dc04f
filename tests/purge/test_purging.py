"""Purging the CDN after a delete: the wildcard rule, the purge client, polling, purge.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkdel.budget import LocalBudget, Turn
from bulkdel.core.stop import StopSignal
from bulkdel.errors import UsageError
from bulkdel.imagekit import ListingClient, PurgeClient, classify_purge
from bulkdel.listing.host import StandaloneHost
from bulkdel.listing.pager import Listing
from bulkdel.listing.selection import Selection
from bulkdel.models import Kind, Outcome, Settings
from bulkdel.purge.cache import (
    PurgeResult,
    check_url_endpoint,
    count_up_to,
    file_urls,
    folder_purge_url,
    purge_urls,
    wildcard_refusal,
)
from bulkdel.purge.plan import purge_listed
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, MakeFake, VirtualClock

ENDPOINT = "https://ik.imagekit.io/fake"


@pytest.mark.parametrize(
    ("folder", "url"),
    [
        ("/a/b/", ENDPOINT + "/a/b/*"),
        ("/images/upload", ENDPOINT + "/images/upload/*"),
        ("/fifteen-chars-x/", ENDPOINT + "/fifteen-chars-x/*"),
        ("/a b/c/", ENDPOINT + "/a%20b/c/*"),
    ],
)
def test_folder_purge_url(folder: str, url: str) -> None:
    """Two levels or 15 characters: one wildcard URL under the endpoint, path-quoted."""
    assert folder_purge_url(ENDPOINT + "/", folder) == url


@pytest.mark.parametrize(
    ("folder", "reason"),
    [
        ("/", "whole library"),
        ("/images/", "one level and 6 characters"),
        ("/fourteen-chars/", "one level and 14 characters"),
        ("/media/catalog/x/", "never accepts"),
        ("/s/files/", "never accepts"),
    ],
)
def test_wildcard_refusals_say_why(folder: str, reason: str) -> None:
    """A folder ImageKit would refuse is a UsageError stating the rule."""
    assert reason in (wildcard_refusal(folder) or "")
    with pytest.raises(UsageError, match="cannot purge"):
        folder_purge_url(ENDPOINT, folder)


def test_url_endpoint_is_checked() -> None:
    """An http(s) URL without a query; the trailing slash is dropped."""
    assert check_url_endpoint(" https://ik.imagekit.io/x/ ") == "https://ik.imagekit.io/x"
    for bad in ("ik.imagekit.io/x", "ftp://x/y", "https://x/y?a=1"):
        with pytest.raises(UsageError, match=r"^url_endpoint ") as raised:
            check_url_endpoint(bad)
        assert raised.value.parameter == "url_endpoint"


def test_classify_purge_answers() -> None:
    """201 with a requestId and 200 with a known status succeed; anything else is not."""
    assert classify_purge(201, b'{"requestId": "r1"}', {}, "requestId") == (
        classify_purge(201, b'{"requestId": "r1"}', {}, "requestId")[0],
        "r1",
    )
    outcome, value = classify_purge(201, b"{}", {}, "requestId")
    assert outcome.kind is Kind.TRANSIENT and outcome.maybe_applied and value is None
    assert classify_purge(200, b'{"status": "Done?"}', {}, "status")[1] is None
    assert classify_purge(200, b"<html>", {}, "status")[1] is None
    assert classify_purge(200, b'{"status": "Completed"}', {}, "status")[1] == "Completed"
    assert classify_purge(404, b"", {}, "status")[0].kind is Kind.FATAL
    assert classify_purge(400, b'{"message": "no"}', {}, "url")[0].kind is Kind.BAD_REQUEST
    assert classify_purge(429, b"", {}, "url")[0].kind is Kind.THROTTLED


async def test_purge_polls_until_completed_and_writes_purge_json(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """One wildcard purge on the fake: submitted once, polled until Completed; purge.json
    shows the request, its id and final status; the counts say one request."""
    server = await make_fake()
    server.purge.pending_polls = 2
    clock = VirtualClock()
    async with PurgeClient(KEY, base_url=server.url) as client:
        records = await purge_urls(client, [ENDPOINT + "/a/b/*"], clock=clock)
    assert server.purge.purged == [ENDPOINT + "/a/b/*"]
    assert [r.status for r in records] == ["Completed"] and records[0].polls == 3
    assert clock.slept == [1, 2]
    result = PurgeResult("folders", records)
    path = result.write(tmp_path)
    data = json.loads(path.read_text())
    assert data["purges"] == [
        {
            "url": ENDPOINT + "/a/b/*",
            "requestId": records[0].request_id,
            "status": "Completed",
            "polls": 3,
        }
    ]
    assert result.counts() == {
        "mode": "folders",
        "requests": 1,
        "completed": 1,
        "pending": 0,
        "failed": 0,
        "refused": None,
    }
    assert oct(path.stat().st_mode & 0o777) == "0o600"


async def test_the_wait_is_bounded(make_fake: MakeFake) -> None:
    """A purge still Pending after max_wait is left Pending, not waited for forever."""
    server = await make_fake()
    server.purge.pending_polls = 10**6
    clock = VirtualClock()
    async with PurgeClient(KEY, base_url=server.url) as client:
        records = await purge_urls(
            client, [ENDPOINT + "/a/b/*"], clock=clock, max_wait=30, poll_max=8
        )
    assert records[0].status == "Pending" and records[0].polls == 6
    assert clock.slept == [1, 2, 4, 8, 8]  # 23 s: 8 more would pass 30


async def test_refused_and_failing_purges_are_records_not_exceptions() -> None:
    """A 400 fails at once with ImageKit's message; a 503 is retried, then failed; a 429
    is retried and the next answer taken."""
    async with FakeImageKit(KEY) as server, PurgeClient(KEY, base_url=server.url) as client:
        clock = VirtualClock()
        refused = await purge_urls(client, ["https://elsewhere/a/b/*"], clock=clock)
        assert refused[0].status == "failed" and "not valid" in (refused[0].error or "")
        assert clock.slept == []
        server.purge.scripted["submit"] = [(503, {"message": "down"})] * 3
        down = await purge_urls(client, [ENDPOINT + "/a/b/*"], clock=clock, attempts=3)
        assert down[0].status == "failed" and down[0].error == "down"
        assert clock.slept == [1, 2]
        assert server.purge.purged == []
        clock = VirtualClock()
        server.purge.scripted["submit"] = [(429, {"message": "slow"})]
        slow = await purge_urls(client, [ENDPOINT + "/a/b/*"], clock=clock)
        assert slow[0].status == "Completed"
        assert clock.slept[0] == 1.0 and server.purge.purged == [ENDPOINT + "/a/b/*"]


async def test_status_answers_transient_then_refused() -> None:
    """A 503 to a status request keeps the record Pending and polls again; a 400 (unknown
    requestId) fails it with the server's message."""
    async with FakeImageKit(KEY) as server, PurgeClient(KEY, base_url=server.url) as client:
        server.purge.scripted["status"] = [
            (503, {"message": "busy"}),
            (400, {"message": "No request found for this requestId."}),
        ]
        records = await purge_urls(client, [ENDPOINT + "/a/b/*"], clock=VirtualClock())
    assert records[0].status == "failed" and records[0].polls == 2
    assert records[0].error == "No request found for this requestId."


def test_file_urls_refuses_above_the_limit() -> None:
    """Per-file purges: the deleted files' URLs, or none with the reason above the limit."""
    urls = {"a": "u/a", "b": "u/b", "c": "u/c"}
    assert file_urls(["a", "c", "x"], urls, 2) == (["u/a", "u/c"], None)
    wanted, refused = file_urls(["a", "b", "c"], urls, 2)
    assert wanted == [] and refused is not None and "above the limit of 2 purged" in refused


async def test_count_up_to_stops_past_the_limit_and_urls_are_kept(make_fake: MakeFake) -> None:
    """Counting stops after at_most + 1 files (one request for a limit under 1000); a listing
    asked to keep URLs maps each listed id to its url."""
    files = seed_files({"/a/b/": 250})
    server = await make_fake(files=files)
    selection = Selection(path="/a/b/")
    host = StandaloneHost(Settings(base_url=server.url))
    listing = Listing(ListingClient(KEY, base_url=server.url), selection, page_size=101)
    assert await count_up_to(listing, host, 100) == 101
    assert server.stats.list_requests == 1
    small = Listing(ListingClient(KEY, base_url=server.url), selection)
    assert await count_up_to(small, host, 1000) == 250
    listing = Listing(ListingClient(KEY, base_url=server.url), selection)
    listing.urls = {}
    chunks = [chunk async for chunk in listing.chunks(host)]
    assert sum(len(c.items) for c in chunks) == 250
    assert listing.urls == {f.file_id: ENDPOINT + f.file_path for f in files}


class RecordingLease:
    """A lease that grants every turn at once and keeps what it granted and was told."""

    def __init__(self) -> None:
        self.turns = 0
        self.observed: list[Kind] = []

    async def turn(self) -> Turn:
        self.turns += 1
        return Turn(float(self.turns))

    async def observe(self, turn: Turn, outcome: Outcome) -> None:
        self.observed.append(outcome.kind)

    async def release(self) -> None:
        pass


async def test_every_purge_retry_and_poll_takes_its_turn() -> None:
    """Each request to the account (purges, their retries, status polls) waits for a turn
    from the lease and tells it the answer: as many turns as the fake answered requests."""
    async with FakeImageKit(KEY) as server, PurgeClient(KEY, base_url=server.url) as client:
        server.purge.pending_polls = 2
        server.purge.scripted["submit"] = [(503, {"message": "busy"})]
        server.purge.scripted["status"] = [(429, {"message": "slow"})]
        lease = RecordingLease()
        urls = [f"{ENDPOINT}/a/b/{n}.jpg" for n in range(3)]
        records = await purge_urls(client, urls, clock=VirtualClock(), lease=lease)
    assert [r.status for r in records] == ["Completed"] * 3
    answered = sum(server.purge.answered.values())
    assert answered == 3 + 1 + server.purge.status_requests + 1  # purges, a 503, polls, a 429
    assert lease.turns == answered
    assert len(lease.observed) == answered and lease.observed.count(Kind.THROTTLED) == 1


async def test_purges_paced_under_a_stated_limit_draw_no_429(make_fake: MakeFake) -> None:
    """The fake's limit is 10/s (a bucket of one request), on the same virtual clock as a
    budget that paces the account at 8/s: not one purge or poll is refused. The same purges
    without a lease go at once and are refused."""
    urls = [f"{ENDPOINT}/a/b/{n}.jpg" for n in range(6)]
    clock = VirtualClock()
    server = await make_fake(rate=10.0, burst=1, clock=clock.time)
    server.purge.pending_polls = 2
    async with PurgeClient(KEY, base_url=server.url) as client:
        budget = LocalBudget(rate=8.0, clock=clock)
        lease = budget.lease(StopSignal(clock))
        records = await purge_urls(client, urls, clock=clock, lease=lease)
        assert [r.status for r in records] == ["Completed"] * 6
        assert server.purge.answered == {201: 6, 200: 6 * 3}
        unpaced = await purge_urls(client, urls, clock=clock)
    assert [r.status for r in unpaced] == ["Completed"] * 6
    assert server.purge.answered[429] > 0


async def test_a_purge_after_the_fact_takes_turns_from_the_accounts_budget(
    make_fake: MakeFake,
) -> None:
    """``purge_listed`` (``bulkdel purge``) sends through a lease of the budget it is given,
    and releases it at the end."""

    class Budget:
        rate = None

        def __init__(self) -> None:
            self.leases: list[RecordingLease] = []

        def lease(self, stop: StopSignal) -> RecordingLease:
            self.leases.append(RecordingLease())
            return self.leases[-1]

        def gate_wait(self) -> float:
            return 0.0

    budget = Budget()
    server = await make_fake()
    settings = Settings(base_url=server.url)
    result = await purge_listed(
        "folders", [ENDPOINT + "/a/b/*"], refused=None, private_key=KEY,
        settings=settings, budget=budget,
    )  # fmt: skip
    assert [r.status for r in result.records] == ["Completed"]
    assert [lease.turns for lease in budget.leases] == [sum(server.purge.answered.values())]
