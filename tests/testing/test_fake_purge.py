"""The fake server's cache purge endpoints, and ``fake-server --existing`` comments."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulkdel.imagekit import ListingClient
from bulkdel.testing import FakeImageKit
from bulkdel.testing.cli import add_arguments, server_from_args
from bulkdel.testing.fake_purge import wildcard_allowed
from tests.helpers import KEY, MakeFake, hex_ids

ENDPOINT = "https://ik.imagekit.io/fake"


async def call(server: FakeImageKit, method: str, path: str, **options: Any) -> Any:
    async with aiohttp.ClientSession() as http:
        client = ListingClient(KEY, base_url=server.url, session=http)
        answer = await client.exchange(method, server.url + path, **options)
    assert isinstance(answer, tuple), answer

    return answer[0], json.loads(answer[1])


async def test_purge_then_poll_until_completed(fake_server: FakeImageKit) -> None:
    """201 with a requestId; Pending for the first poll, then Completed; the URL recorded."""
    status, body = await call(
        fake_server, "POST", "/v1/files/purge", json={"url": ENDPOINT + "/a/b/*"}
    )
    assert status == 201
    request_id = body["requestId"]
    path = f"/v1/files/purge/{request_id}"
    assert await call(fake_server, "GET", path) == (200, {"status": "Pending"})
    assert await call(fake_server, "GET", path) == (200, {"status": "Completed"})
    assert (await call(fake_server, "GET", "/v1/files/purge/nope"))[0] == 400
    assert fake_server.purge.purged == [ENDPOINT + "/a/b/*"]
    assert fake_server.purge.status_requests == 3


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        (ENDPOINT + "/a/b/*", True),
        (ENDPOINT + "/images/upload*", True),
        (ENDPOINT + "/fifteen-chars-x/*", True),
        (ENDPOINT + "/sample.jpg*", True),
        (ENDPOINT + "/a/b/c.jpg", True),
        (ENDPOINT + "/images*", False),
        (ENDPOINT + "/a/*", False),
        (ENDPOINT + "/*", False),
        (ENDPOINT + "/a/*/b.jpg", False),
        (ENDPOINT + "/media/catalog/*", False),
        ("https://elsewhere.example/a/b/*", False),
        (42, False),
    ],
)
async def test_purge_url_rules(url: object, accepted: bool, make_fake: MakeFake) -> None:
    """The wildcard rule: two levels, or 15 characters, or a file name; at the end only."""
    server = await make_fake()
    status, body = await call(server, "POST", "/v1/files/purge", json={"url": url})
    assert (status == 201) is accepted, body
    if not accepted:
        assert set(body) == {"message", "help"}


async def test_purge_checks_the_key_and_the_body() -> None:
    """No key is 401; a body without a url or not JSON is 400."""
    async with FakeImageKit(KEY) as server, aiohttp.ClientSession() as http:
        async with http.post(server.url + "/v1/files/purge", json={"url": ENDPOINT}) as answer:
            assert answer.status == 401
        assert (await call(server, "POST", "/v1/files/purge", json={"x": 1}))[0] == 400
        assert (await call(server, "POST", "/v1/files/purge", data=b"{"))[0] == 400
        async with http.get(server.url + "/v1/files/purge/1") as answer:
            assert answer.status == 401


def test_wildcard_allowed_edges() -> None:
    """The empty path and the never-allowed patterns are refused."""
    assert not wildcard_allowed("/")
    assert not wildcard_allowed("/s/files/")
    assert wildcard_allowed("/a/b/")


def test_existing_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    """fake-server --existing: '#' starts a comment, blank lines are skipped."""
    ids = tmp_path / "ids.txt"
    a, b = hex_ids(2)
    ids.write_text(f"# exported 2026-01-01\n\n{a}\n  {b}  # the second\n   \n#{hex_ids(1, 5)[0]}\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    server = server_from_args(
        parser.parse_args(["--existing", str(ids), "--url-endpoint", "https://x/y/"])
    )
    assert server.existing == {a, b}
    assert server.url_endpoint == "https://x/y"
