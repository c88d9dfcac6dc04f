"""The ImageKit client when the answer fails: 5xx, unreadable bodies, timeouts and lost
connections (mocked, then on real sockets), each classified with whether it may have been
applied; the key never in a message."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses

from bulkdel.imagekit import DeleteClient
from bulkdel.models import Kind, Outcome
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import closed_port
from tests.imagekit.wire import BASE, BATCH, KEY, URL_DELETE, wire_json


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient, status: int
) -> None:
    """5xx -> TRANSIENT, maybe applied (the server may have deleted before failing)."""
    mocked.post(URL_DELETE, status=status, body="<html>Bad Gateway</html>")
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status == status
    assert outcome.maybe_applied is True
    assert outcome.deleted == ()
    assert "Bad Gateway" in outcome.message


@pytest.mark.parametrize(
    "body",
    [
        b"<html>OK</html>",
        b"\xff\xfe garbage",
        b"",
        wire_json({"deleted": BATCH}),
        wire_json({"successfullyDeletedFileIds": "all"}),
        wire_json({"successfullyDeletedFileIds": [1, 2]}),
        wire_json({"successfullyDeletedFileIds": BATCH, "errors": "none"}),
        wire_json(BATCH),
    ],
    ids=["html", "garbage", "empty", "missing-key", "str", "ints", "errors-str", "bare-list"],
)
@pytest.mark.parametrize("status", [200, 207])
async def test_unreadable_2xx_is_never_success(
    mocked: aioresponses, client: DeleteClient, status: int, body: bytes
) -> None:
    """A 2xx whose body is not the expected JSON -> TRANSIENT maybe_applied, nothing deleted."""
    mocked.post(URL_DELETE, status=status, body=body)
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True
    assert outcome.deleted == ()
    assert outcome.errors == ()


async def test_timeout_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """A timeout -> TRANSIENT with no status, maybe applied."""
    mocked.post(URL_DELETE, exception=TimeoutError())
    outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)


async def test_server_timeout_error_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """aiohttp's ServerTimeoutError (a read timeout) -> TRANSIENT maybe applied."""
    mocked.post(URL_DELETE, exception=aiohttp.ServerTimeoutError("read timeout"))
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True


async def test_connect_error_is_transient_not_applied(
    mocked: aioresponses, client: DeleteClient
) -> None:
    """A connection that was never made -> TRANSIENT, certainly not applied."""
    key = aiohttp.client_reqrep.ConnectionKey("api.example.test", 443, True, True, None, None, None)
    mocked.post(URL_DELETE, exception=aiohttp.ClientConnectorError(key, ConnectionRefusedError()))
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is False
    assert "cannot connect" in outcome.message


@pytest.mark.parametrize(
    "exc",
    [
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("truncated"),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
    ],
    ids=["disconnected", "payload", "reset"],
)
async def test_lost_connection_is_transient_maybe_applied(
    mocked: aioresponses, client: DeleteClient, exc: Exception
) -> None:
    """A connection lost after sending -> TRANSIENT, maybe applied."""
    mocked.post(URL_DELETE, exception=exc)
    outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is True
    assert "connection lost" in outcome.message


async def test_key_never_in_outcome_messages(mocked: aioresponses) -> None:
    """A server that echoes the key or the auth header back never gets it into a message."""
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    echo = f"debug: Authorization: Basic {token} key={KEY}"
    answers: list[dict[str, Any]] = [
        {"status": 500, "body": echo},
        {"status": 200, "body": echo},
        {"status": 404, "body": echo},
        {"status": 400, "payload": {"message": echo}},
        {"status": 403, "payload": {"message": echo}},
        {"status": 429, "payload": {"message": echo}},
        {
            "status": 207,
            "payload": {
                "successfullyDeletedFileIds": [],
                "errors": [{"fileId": fid, "error": echo} for fid in BATCH],
            },
        },
    ]
    for answer in answers:
        mocked.post(URL_DELETE, **answer)
    async with DeleteClient(KEY, base_url=BASE) as client:
        outcomes = [await client.delete_batch(BATCH) for _ in answers]
        assert KEY not in repr(client)
        assert token not in repr(client)
    texts = [o.message for o in outcomes[:-1]] + [e.error for e in outcomes[-1].errors]
    assert len(texts) == len(answers) - 1 + len(BATCH)
    assert all("debug" in text for text in texts), texts
    for text in texts:
        assert KEY not in text
        assert token not in text


# --- real sockets: connection refused and a dropped connection ----------------------------


async def test_connection_refused_is_not_applied() -> None:
    """A real refused connection -> TRANSIENT with maybe_applied False."""
    async with DeleteClient(KEY, base_url=f"http://127.0.0.1:{closed_port()}") as client:
        outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.status is None
    assert outcome.maybe_applied is False


async def test_real_disconnect_is_maybe_applied() -> None:
    """A server that closes the connection without answering -> TRANSIENT maybe applied."""
    async with (
        FakeImageKit(KEY, faults=Faults(drop_before=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(BATCH)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied is True
    assert server.deleted == set()


async def test_real_timeout_is_maybe_applied() -> None:
    """A server slower than the client's timeout -> TRANSIENT 'timed out', maybe applied."""
    faults = Faults(slow_after=1.0, slow_seconds=5.0)
    async with (
        FakeImageKit(KEY, faults=faults) as server,
        DeleteClient(KEY, base_url=server.url, timeout=0.2) as client,
    ):
        outcome = await client.delete_batch(BATCH)
    assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
    assert server.deleted == set(BATCH)
