"""The preflight: one listing page of one file checks key, base URL and TLS before a run."""

from __future__ import annotations

import pytest
from aiohttp import web

from bulkdel.delete.preflight import ATTEMPTS, preflight
from bulkdel.errors import FatalAPIError, UnreachableError
from bulkdel.imagekit import ListingClient
from bulkdel.testing import FakeImageKit, Faults, seed_files
from tests.helpers import KEY, MakeFake, VirtualClock, closed_port


async def check(base_url: str, key: str = KEY, clock: VirtualClock | None = None) -> None:
    async with ListingClient(key, base_url=base_url, timeout=5) as client:
        await preflight(client, clock=clock or VirtualClock())


async def test_a_good_key_and_url_pass_with_one_request(make_fake: MakeFake) -> None:
    """One GET /v1/files?limit=1, answered 200: nothing raised."""
    server = await make_fake(files=seed_files({"/a/": 5}))
    await check(server.url)
    assert server.stats.list_requests == 1


async def test_a_wrong_key_is_fatal_at_once() -> None:
    """403 raises FatalAPIError (exit 3) after one request, naming the key as the suspect."""
    async with FakeImageKit("another_key_0123456789") as server:
        with pytest.raises(FatalAPIError) as caught:
            await check(server.url)
        assert server.stats.list_requests == 1
    assert caught.value.status == 403 and "private key" in str(caught.value)


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_connection_refused_and_tls_failures_name_url_and_cause(
    scheme: str, make_fake: MakeFake
) -> None:
    """A closed port (refused) or plain http spoken to as https (TLS) raise UnreachableError
    naming the URL and the cause, without retrying."""
    server = await make_fake()
    port = closed_port() if scheme == "http" else int(server.url.rsplit(":", 1)[1])
    url = f"{scheme}://127.0.0.1:{port}"
    clock = VirtualClock()
    with pytest.raises(UnreachableError) as caught:
        await check(url, clock=clock)
    assert caught.value.url == url + "/v1/files"
    assert url in str(caught.value)
    expected = "Connect call failed" if scheme == "http" else "SSL"
    assert expected in caught.value.cause
    assert clock.slept == []


async def test_dns_failure_names_the_host() -> None:
    """An unknown host raises UnreachableError naming it."""
    with pytest.raises(UnreachableError, match=r"nonexistent\.invalid"):
        await check("https://nonexistent.invalid")


async def test_5xx_is_retried_then_fatal(make_fake: MakeFake) -> None:
    """A server answering 503 is tried ATTEMPTS times, with waits, then FatalAPIError."""
    server = await make_fake(faults=Faults(error_5xx=1.0))
    clock = VirtualClock()
    with pytest.raises(FatalAPIError) as caught:
        await check(server.url, clock=clock)
    assert server.stats.list_requests == ATTEMPTS
    assert caught.value.status == 503
    assert clock.slept == [1.0, 2.0]


async def test_a_429_waits_as_told_and_passes(make_fake: MakeFake) -> None:
    """A 429 waits what X-RateLimit-Reset says (capped), then the next answer passes."""
    server = await make_fake()
    original = server._answer_list
    answers = iter(
        [web.json_response({"message": "slow"}, status=429, headers={"X-RateLimit-Reset": "60000"})]
    )

    async def throttle_once(request: web.Request) -> web.StreamResponse:
        return next(answers, None) or await original(request)

    server._answer_list = throttle_once  # type: ignore[method-assign]
    clock = VirtualClock()
    await check(server.url, clock=clock)
    assert clock.slept == [10.0]


async def test_an_answer_that_is_not_imagekits_is_fatal(fake_server: FakeImageKit) -> None:
    """A 200 that is not a JSON array (another web server) is fatal after the attempts."""

    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>hello</html>", content_type="text/html")

    fake_server._answer_list = html  # type: ignore[method-assign]
    with pytest.raises(FatalAPIError, match="base URL"):
        await check(fake_server.url)


async def test_timeouts_are_unreachable_after_the_attempts() -> None:
    """No answer in time on every attempt raises UnreachableError saying so."""
    async with (
        FakeImageKit(KEY, faults=Faults(latency=2.0)) as server,
        ListingClient(KEY, base_url=server.url, timeout=0.05) as client,
    ):
        with pytest.raises(UnreachableError, match="timed out"):
            await preflight(client, clock=VirtualClock())
