"""The ImageKit client's construction, sessions and safety: the key hidden, the pool, plain
http refused off loopback, a caller's session left open."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bulkdel.errors import UsageError
from bulkdel.imagekit import DELETE_PATH, DeleteClient, check_base_url
from bulkdel.models import Kind
from bulkdel.testing import FakeImageKit
from tests.imagekit.wire import BASE, BATCH, KEY

# --- construction, sessions, safety --------------------------------------------------------


def test_repr_hides_key() -> None:
    """repr(client) shows the base URL and never the key."""
    client = DeleteClient(KEY, base_url=BASE)
    assert KEY not in repr(client)
    assert BASE in repr(client)


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_key_is_usage_error(key: str) -> None:
    """An empty or blank key is refused before anything is sent."""
    with pytest.raises(UsageError, match="empty"):
        DeleteClient(key)


def test_connections_must_be_positive() -> None:
    """connections < 1 is a UsageError naming the parameter."""
    with pytest.raises(UsageError, match="connections"):
        DeleteClient(KEY, connections=0)


async def test_own_session_has_no_pool_limit_by_default() -> None:
    """Without ``connections`` the pool does not cap requests in flight (0 = no limit)."""
    client = DeleteClient(KEY)
    try:
        assert client.session.connector is not None
        assert client.session.connector.limit == 0
    finally:
        await client.close()


async def test_own_session_uses_connections_as_pool_size() -> None:
    """The session the client makes has a pool of ``connections`` connections."""
    client = DeleteClient(KEY, connections=5)
    try:
        assert client.session.connector is not None
        assert client.session.connector.limit == 5
    finally:
        await client.close()


@pytest.mark.parametrize(
    "url",
    ["http://api.imagekit.io", "http://10.0.0.1:8080", "http://example.com/"],
)
def test_plain_http_to_remote_host_is_refused(url: str) -> None:
    """http to a non-loopback host raises UsageError unless allow_insecure_http."""
    with pytest.raises(UsageError, match="plain http"):
        DeleteClient(KEY, base_url=url)
    client = DeleteClient(KEY, base_url=url, allow_insecure_http=True)
    assert client.base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:9", "https://x.test/"]
)
def test_loopback_http_and_https_are_accepted(url: str) -> None:
    """http to loopback and https anywhere are fine; a trailing slash is dropped."""
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["ftp://api.imagekit.io", "api.imagekit.io", "https://", "https://u:p@x.test"]
)
def test_malformed_base_url_is_refused(url: str) -> None:
    """A base URL that is not http(s) with a host, or that holds credentials, is refused."""
    with pytest.raises(UsageError):
        check_base_url(url)


async def test_caller_session_is_used_and_left_open() -> None:
    """A caller's ClientSession carries the requests and is not closed by client.close()."""
    seen: list[str] = []

    async def on_start(_s: Any, _ctx: Any, params: aiohttp.TraceRequestStartParams) -> None:
        seen.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    async with FakeImageKit(KEY) as server, aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = DeleteClient(KEY, base_url=server.url, session=session)
        assert client.session is session
        outcome = await client.delete_batch(BATCH)
        await client.close()
        assert not session.closed
        assert outcome.kind is Kind.SUCCESS
        assert seen == [server.url + DELETE_PATH]


async def test_own_session_is_closed_by_close() -> None:
    """The session a client made for itself is closed by close()."""
    client = DeleteClient(KEY, base_url=BASE)
    session = client.session
    await client.close()
    assert session.closed
