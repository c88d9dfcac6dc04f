"""The fake server's listing endpoint answers like ImageKit: sorting, paging limits, auth and
400s for queries it cannot read."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import aiohttp
import pytest

from bulkdel.testing import FakeFile, FakeImageKit, Faults
from tests.helpers import KEY, MakeFake

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
FILES = [
    FakeFile("0" * 23 + "1", "/a/b.jpg", START, size=30, tags=("x",)),
    FakeFile("0" * 23 + "2", "/a/c.jpg", START + dt.timedelta(seconds=1), size=10),
    # a naive time is taken as UTC
    FakeFile("0" * 23 + "3", "/a/a.jpg", dt.datetime(2024, 1, 1, 0, 0, 2), size=20),
]


async def get(server: FakeImageKit, headers: dict[str, str] | None = None, **query: str) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.url + "/v1/files", params=query, headers=headers or AUTH) as answer,
    ):
        return answer.status, await answer.json()


async def test_sorts_by_name_size_and_time(make_fake: MakeFake) -> None:
    """Every ImageKit sort orders the files as it says, naive times included as UTC."""
    server = await make_fake(files=FILES)
    orders = {}
    for sort in ("ASC_CREATED", "DESC_CREATED", "ASC_NAME", "DESC_NAME", "ASC_SIZE"):
        status, files = await get(server, sort=sort)
        assert status == 200, files
        orders[sort] = [f["name"] for f in files]
    assert orders == {
        "ASC_CREATED": ["b.jpg", "c.jpg", "a.jpg"],
        "DESC_CREATED": ["a.jpg", "c.jpg", "b.jpg"],
        "ASC_NAME": ["a.jpg", "b.jpg", "c.jpg"],
        "DESC_NAME": ["c.jpg", "b.jpg", "a.jpg"],
        "ASC_SIZE": ["c.jpg", "a.jpg", "b.jpg"],
    }


async def test_folders_are_not_listed_and_paging_is_bounded(make_fake: MakeFake) -> None:
    """type=folder lists nothing (the fake holds files only); skip and limit page."""
    server = await make_fake(files=FILES)
    assert await get(server, type="folder") == (200, [])
    status, files = await get(server, skip="1", limit="1")
    assert status == 200
    assert [f["name"] for f in files] == ["c.jpg"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"limit": "ten"}, "limit and skip must be integers."),
        ({"limit": "0"}, "limit must be 1..1000 and skip >= 0."),
        ({"limit": "1001"}, "limit must be 1..1000 and skip >= 0."),
        ({"skip": "-1"}, "limit must be 1..1000 and skip >= 0."),
        ({"sort": "ASC_COLOR"}, "Invalid sort parameter 'ASC_COLOR'."),
        ({"searchQuery": "name ~ 'x'"}, "Invalid search query near"),
        (
            {"searchQuery": 'createdAt < "last week"'},
            "Invalid date 'last week' in search query: use YYYY-MM-DD",
        ),
        ({"searchQuery": "size >"}, "Invalid search query: expected a value"),
        ({"searchQuery": 'size : "1"'}, "size does not support ':'."),
        ({"searchQuery": 'tags > "x"'}, "tags does not support '>'."),
        ({"searchQuery": 'name > "x"'}, "name does not support '>'."),
        ({"searchQuery": 'colour = "red"'}, "Invalid search query: unknown field 'colour'."),
    ],
)
async def test_malformed_queries_are_400_with_a_message(
    query: dict[str, str], message: str, make_fake: MakeFake
) -> None:
    """A query the fake cannot read is a 400 whose message says what is wrong."""
    server = await make_fake(files=FILES)
    status, body = await get(server, **query)
    assert status == 400
    assert body["message"].startswith(message), body


async def test_listing_checks_the_key_and_injects_faults(make_fake: MakeFake) -> None:
    """No key is 401; with latency and a 5xx rate of 1, listing answers 503 after waiting."""
    faults = Faults(latency=0.01, error_5xx=1.0)
    server = await make_fake(files=FILES, faults=faults)
    assert (await get(server, headers={"X-Other": "1"}))[0] == 401
    status, body = await get(server)
    assert server.stats.faults["error_5xx"] == 1
    assert server.stats.list_requests == 2
    assert status == 503
    assert body["message"] == "Service temporarily unavailable."
