"""The fake ImageKit server, end to end through DeleteClient and raw aiohttp requests: which
ids exist, the key and bad requests, its counters."""

from __future__ import annotations

import base64
import json

import aiohttp
import pytest

from bulkdel.imagekit import DeleteClient
from bulkdel.models import Kind, Outcome
from bulkdel.testing import FakeImageKit
from bulkdel.testing.fake_server import STATS_PATH
from tests.helpers import KEY, MakeFake
from tests.testing.fake_http import ids, post

# --- existing ids --------------------------------------------------------------------------


async def test_seeded_ids_are_the_only_ones_that_exist(make_fake: MakeFake) -> None:
    """With ``existing``, seeded ids are deleted once; any other id is missing."""
    seeded = ids(3)
    server = await make_fake(existing=seeded)
    async with DeleteClient(KEY, base_url=server.url) as client:
        first = await client.delete_batch(seeded[:2])
        second = await client.delete_batch([seeded[2], "0" * 24])
        again = await client.delete_batch(seeded[:1])
    assert first == Outcome(Kind.SUCCESS, 200, deleted=tuple(seeded[:2]))
    assert second.kind is Kind.MISSING
    assert second.missing == ("0" * 24,)
    assert again.missing == (seeded[0],)
    assert server.deleted == set(seeded[:2])
    assert server.existing == {seeded[2]}


async def test_every_well_formed_id_exists_once(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """Without ``existing``, a well-formed id is deleted once, then it is missing (404)."""
    batch = ids(5)
    first = await client.delete_batch(batch)
    second = await client.delete_batch(batch)
    assert first.deleted == tuple(batch)
    assert second.kind is Kind.MISSING
    assert second.missing == tuple(batch)
    assert fake_server.deleted == set(batch)


async def test_malformed_id_is_missing(fake_server: FakeImageKit) -> None:
    """An id outside ImageKit's alphabet does not exist: 404 naming it."""
    status, data, _ = await post(fake_server, file_ids=["a" * 24, "bad id!"])
    assert status == 404
    assert data["missingFileIds"] == ["bad id!"]
    assert fake_server.deleted == set()


async def test_404_deletes_nothing_of_the_batch(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """One unknown id makes the whole batch a 404: the other ids are not deleted."""
    gone = ids(1, "e")
    await client.delete_batch(gone)
    batch = [*ids(4), *gone]
    status, data, _ = await post(fake_server, file_ids=batch)
    assert status == 404
    assert data == {
        "message": "The requested file(s) does not exist.",
        "help": "For support kindly contact us at support@imagekit.io.",
        "missingFileIds": gone,
    }
    assert fake_server.deleted == set(gone)
    assert all(fake_server.exists(i) for i in ids(4))
    assert fake_server.stats.ids_deleted == 1


async def test_duplicates_in_a_batch_are_deleted_once(fake_server: FakeImageKit) -> None:
    """An id sent twice in one batch is deleted and listed once (not a 404 for the copy)."""
    batch = ids(2)
    status, data, _ = await post(fake_server, file_ids=[*batch, batch[0]])
    assert status == 200
    assert data == {"successfullyDeletedFileIds": batch}
    assert fake_server.stats.ids_deleted == 2


# --- auth and bad requests -----------------------------------------------------------------


async def test_401_without_key(fake_server: FakeImageKit) -> None:
    """No Authorization header -> 401 with ImageKit's message; nothing deleted."""
    status, data, _ = await post(fake_server, file_ids=ids(1), auth=None)
    assert status == 401
    assert data["message"] == "Your request does not contain private API key."
    assert fake_server.deleted == set()


async def test_403_with_wrong_key(fake_server: FakeImageKit) -> None:
    """A wrong key -> 403 (FATAL for the client); nothing deleted."""
    async with DeleteClient("another_private_key", base_url=fake_server.url) as client:
        outcome = await client.delete_batch(ids(2))
    assert outcome == Outcome(Kind.FATAL, 403, message="Your account cannot be authenticated.")
    assert fake_server.deleted == set()


async def test_password_part_is_ignored_like_imagekit(fake_server: FakeImageKit) -> None:
    """The Basic-auth password is ignored, as ImageKit does (the SDK sends key:do_not_set)."""
    auth = "Basic " + base64.b64encode(f"{KEY}:do_not_set".encode()).decode()
    status, _, _ = await post(fake_server, file_ids=ids(1), auth=auth)
    assert status == 200


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer " + base64.b64encode(f"{KEY}:".encode()).decode(),
        "Basic " + base64.b64encode(KEY.encode()).decode(),
        "Basic " + base64.b64encode(f"{KEY}x:".encode()).decode(),
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
        KEY,
    ],
    ids=["bearer", "no-colon", "other-key", "bad-base64", "not-utf8", "bare-key"],
)
async def test_malformed_or_wrong_auth_is_403(fake_server: FakeImageKit, auth: str) -> None:
    """An Authorization header that does not carry the key as Basic user -> 403."""
    status, _, _ = await post(fake_server, file_ids=ids(1), auth=auth)
    assert status == 403
    assert fake_server.deleted == set()


async def test_key_is_checked_before_the_body(fake_server: FakeImageKit) -> None:
    """A bad body with a wrong key is a 403, not a 400: the key is checked first."""
    status, _, _ = await post(fake_server, b"not json", auth="Basic eDo=")
    assert status == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"fileIds": []}', "fileIds is empty."),
        (json.dumps({"fileIds": ids(101)}), "fileIds cannot have more than 100 items."),
        ('{"fileIds": "abc"}', "fileIds should be an Array."),
        ('{"fileIds": [1, 2]}', "fileIds should be an Array."),
        ('{"fileIds": {"a": 1}}', "fileIds should be an Array."),
        ('{"ids": ["a"]}', "fileIds parameter is missing."),
        ('["a"]', "fileIds parameter is missing."),
        ("fileIds=a", "Request body is not valid JSON."),
        ("", "Request body is not valid JSON."),
    ],
    ids=["empty", "101", "string", "ints", "object", "no-key", "bare-list", "form", "no-body"],
)
async def test_400_for_bad_bodies(fake_server: FakeImageKit, body: str, message: str) -> None:
    """Malformed bodies -> 400 with ImageKit's message; nothing deleted."""
    status, data, _ = await post(fake_server, body)
    assert status == 400
    assert data["message"] == message
    assert fake_server.deleted == set()


async def test_100_ids_is_allowed(fake_server: FakeImageKit) -> None:
    """Exactly 100 ids is the limit, not past it."""
    status, data, _ = await post(fake_server, file_ids=ids(100))
    assert status == 200
    assert len(data["successfullyDeletedFileIds"]) == 100


# --- stats ---------------------------------------------------------------------------------


async def test_stats_count_requests_statuses_and_deletions(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """requests, by_status and ids_deleted count what happened; the stats endpoint agrees."""
    await client.delete_batch(ids(4))
    await client.delete_batch(ids(4))
    await post(fake_server, file_ids=[])
    await post(fake_server, file_ids=ids(1), auth=None)
    stats = fake_server.stats
    assert stats.requests == 4
    assert stats.by_status == {200: 1, 404: 1, 400: 1, 401: 1}
    assert stats.ids_deleted == 4
    assert stats.max_in_flight == 1
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake_server.url + STATS_PATH) as response,
    ):
        assert response.status == 200
        data = await response.json()
    assert data == {
        "requests": 4,
        "by_status": {"200": 1, "400": 1, "401": 1, "404": 1},
        "faults": {},
        "in_flight": 0,
        "max_in_flight": 1,
        "ids_deleted": 4,
    }


async def test_repr_hides_the_key(fake_server: FakeImageKit) -> None:
    """The server's repr names its URL, never its key."""
    assert KEY not in repr(fake_server)
    assert fake_server.url in repr(fake_server)
