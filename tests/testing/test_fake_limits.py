"""The fake server's rate limits: what a 429 says, refusals by other traffic, a moving limit."""

from __future__ import annotations

import argparse
import base64

import aiohttp
import pytest

from bulkdel.testing import FakeImageKit, Faults, LimitHeaders
from bulkdel.testing.cli import add_arguments, server_from_args
from bulkdel.testing.fake_limits import Limiter, refusal_headers
from tests.helpers import hex_ids

KEY = "limits_key_0123456789"


class Clock:
    """A hand-driven monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_429_says_the_limit_in_full_only_retry_after_or_nothing() -> None:
    """FULL: ImageKit's three headers; RETRY_AFTER: whole seconds, rounded up; NONE: none."""
    assert refusal_headers(LimitHeaders.FULL, 50, 0.0101, 1.0) == {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Reset": "11",
        "X-RateLimit-Interval": "1000",
    }
    assert refusal_headers(LimitHeaders.RETRY_AFTER, 50, 0.0101, 1.0) == {"Retry-After": "1"}
    assert refusal_headers(LimitHeaders.RETRY_AFTER, 1000, 12.2, 15.0) == {"Retry-After": "13"}
    assert refusal_headers(LimitHeaders.NONE, 50, 0.5, 1.0) == {}


def test_other_traffic_refuses_its_share_stating_the_limit_and_spends_nothing() -> None:
    """1 in 10 refused at random (limit and a one-token reset stated); the bucket is untouched
    by them, so the admitted still get exactly the rate."""
    clock = Clock()
    limiter = Limiter(1000.0, (), clock, other_traffic=0.1, seed=3)
    answers = [limiter.admit() for _ in range(1000)]
    refused = [a for a in answers if a is not None]
    assert 60 <= len(refused) <= 140
    assert refused[0] == {
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Reset": "1",
        "X-RateLimit-Interval": "1000",
    }
    assert limiter.active
    assert not Limiter(None, (), clock).active


def test_a_limit_can_move() -> None:
    """``set_rate`` halves the bucket: what was banked above the new capacity is gone."""
    clock = Clock()
    limiter = Limiter(10.0, (), clock)
    limiter.set_rate(4.0)
    admitted = sum(limiter.admit() is None for _ in range(10))
    assert admitted == 4
    clock.now = 1.0
    assert sum(limiter.admit() is None for _ in range(10)) == 4


async def test_the_server_refuses_with_only_retry_after_when_told() -> None:
    """``limit_headers=RETRY_AFTER``: a 429 from the bucket and from a burst both carry only
    Retry-After."""
    faults = Faults(throttle_burst=1.0)
    async with FakeImageKit(
        KEY, rate=5.0, faults=faults, limit_headers=LimitHeaders.RETRY_AFTER
    ) as server:
        auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
        async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
            url = server.url + "/v1/files/batch/deleteByFileIds"
            async with session.post(url, json={"fileIds": hex_ids(1)}) as answer:
                assert answer.status == 429
                assert answer.headers.get("Retry-After") == "1"
                assert "X-RateLimit-Limit" not in answer.headers


def test_the_command_line_takes_the_limit_options() -> None:
    """--limit-headers and --other-traffic reach the server built."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--rate", "5", "--limit-headers", "none", "--other-traffic", "0.25"])
    server = server_from_args(args)
    assert server._throttle.headers is LimitHeaders.NONE
    assert server.faults.other_traffic == 0.25
    assert server._throttle.other_traffic == 0.25


def test_a_burst_sizes_the_bucket_and_the_429_still_states_the_rate() -> None:
    """``burst=20`` at 100/s: 20 at once, then a 429 saying 100 per second; refilled at 100/s."""
    now = [0.0]
    limiter = Limiter(100.0, (), lambda: now[0], burst=20)
    admitted = 0
    while limiter.admit() is None:
        admitted += 1
    assert admitted == 20
    refused = limiter.admit()
    assert refused is not None
    assert (refused["X-RateLimit-Limit"], refused["X-RateLimit-Interval"]) == ("100", "1000")
    now[0] = 0.1
    assert sum(limiter.admit() is None for _ in range(30)) == 10


def test_the_cli_takes_a_burst() -> None:
    """``--burst 20`` reaches the server's bucket; a burst under 1 is refused."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    server = server_from_args(parser.parse_args(["--rate", "100", "--burst", "20"]))
    assert server._throttle._capacity == 20
    for silly in ("0", "abc"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--burst", silly])
