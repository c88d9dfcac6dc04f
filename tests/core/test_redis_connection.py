"""The one Redis connection module: URLs checked and redacted, errors classified by type, and
the one wait policy (on virtual time: no test here sleeps)."""

from __future__ import annotations

import logging

import pytest
from redis import exceptions as rx

from bulkdel.core.redis_connection import (
    RedisWait,
    Verdict,
    check_url,
    classify,
    connect,
    describe,
    redacted,
    url_of,
)
from bulkdel.core.stop import StopSignal
from bulkdel.errors import RedisError, RedisUnavailableError, Stopped, UsageError
from bulkdel.models import Abort, AbortReason
from tests.helpers import VirtualClock

SECRET = "s3cr3t-pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{SECRET}@h:6379/0", "redis://:***@h:6379/0"),
        (f"redis://alice:{SECRET}@h:6379/0", "redis://alice:***@h:6379/0"),
        (f"rediss://{SECRET}@h/0", "rediss://***@h/0"),
        (f"redis://h:6379/0?password={SECRET}&db=2", "redis://h:6379/0?password=***&db=2"),
        (f"unix://:{SECRET}@/run/redis.sock?db=1", "unix://:***@/run/redis.sock?db=1"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        (f"redis://:{SECRET}@h:port/0", "redis://(unparseable)"),
        (f"redis://:{SECRET}@[::1/0", "redis://(unparseable)"),
    ],
)
def test_redacted_never_shows_the_password(url: str, shown: str) -> None:
    """The password (userinfo or query) becomes ***; an unparseable URL shows its scheme only."""
    assert redacted(url) == shown
    assert SECRET not in redacted(url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "is empty"),
        (f"ftp://:{SECRET}@h:21/0", "must start with redis://, rediss:// (TLS) or unix://"),
        ("localhost:6379", "must start with redis://"),
        (f"redis://:{SECRET}@h:99999/0", "cannot be parsed"),
        ("unix://", "names no socket path"),
        (f"redis://:{SECRET}@h/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
    ],
)
def test_a_bad_url_is_a_usage_error_naming_it_without_its_password(url: str, says: str) -> None:
    """``connect`` refuses what redis-py would refuse with a ValueError, before connecting."""
    with pytest.raises(UsageError) as caught:
        connect(url)
    assert says in str(caught.value)
    assert SECRET not in str(caught.value)


def test_good_urls_pass_and_the_client_has_one_policy() -> None:
    """redis, rediss and unix pass; the client decodes and redis-py retries nothing."""
    for url in ("redis://h:1/0", "rediss://h:1/0", "unix:///tmp/x.sock?db=3"):
        check_url(url)
    client = connect(f"redis://:{SECRET}@h:7000/4")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["decode_responses"] is True
    assert kwargs["retry"].get_retries() == 0
    assert url_of(client) == "redis://h:7000/4"
    assert url_of(connect("rediss://h:7000/1")) == "rediss://h:7000/1"
    assert url_of(connect("unix:///tmp/x.sock?db=3")) == "unix:///tmp/x.sock?db=3"


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (rx.AuthenticationError("invalid password"), Verdict.FATAL),
        (rx.AuthorizationError("no"), Verdict.FATAL),
        (rx.NoPermissionError("this user has no permissions"), Verdict.FATAL),
        (rx.OutOfMemoryError("command not allowed when used memory > 'maxmemory'"), Verdict.FATAL),
        (rx.ResponseError("Error running script: OOM command not allowed"), Verdict.FATAL),
        (rx.ResponseError("NOAUTH Authentication required."), Verdict.FATAL),
        (rx.InvalidResponse("Protocol Error: b'HTTP/1.1 400'"), Verdict.FATAL),
        (rx.ConnectionError("Error 111 connecting"), Verdict.OUTAGE),
        (rx.TimeoutError("Timeout reading from socket"), Verdict.OUTAGE),
        (rx.BusyLoadingError("Redis is loading the dataset in memory"), Verdict.OUTAGE),
        (rx.ReadOnlyError("You can't write against a read only replica."), Verdict.OUTAGE),
        (ConnectionRefusedError(111, "refused"), Verdict.OUTAGE),
        (TimeoutError(), Verdict.OUTAGE),
        (rx.ResponseError("NOGROUP No such key"), Verdict.OTHER),
        (rx.ResponseError("ROOM for doubt"), Verdict.OTHER),
        (ValueError("x"), Verdict.OTHER),
    ],
)
def test_errors_are_classified_by_type(error: BaseException, verdict: Verdict) -> None:
    """A refused password is fatal though it subclasses ConnectionError; LOADING waits."""
    assert classify(error) is verdict


def test_describe_names_the_cause_and_hides_the_password() -> None:
    """Each fatal kind reads as what it is; a password in a message is masked."""
    url = f"redis://:{SECRET}@h:1/0"
    assert "password was refused" in describe(rx.AuthenticationError("WRONGPASS x"))
    assert "out of memory" in describe(rx.OutOfMemoryError("command not allowed"))
    assert "does not answer as Redis does" in describe(rx.InvalidResponse("Protocol Error"))
    assert SECRET not in describe(rx.ConnectionError(f"cannot reach {url}"), url)
    assert len(describe(rx.InvalidResponse("x" * 1000))) <= 160


class _Flaky:
    """An operation that raises each of ``errors`` in turn, then answers "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _stop(clock: VirtualClock) -> StopSignal:
    return StopSignal(clock)


async def test_an_outage_shorter_than_the_bound_is_waited_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three refusals, then an answer: one warning naming the URL, one "answers again"."""
    clock = VirtualClock()
    wait = RedisWait(f"redis://:{SECRET}@h:1/0", total=60)
    flaky = _Flaky(*(rx.ConnectionError("refused") for _ in range(3)))
    with caplog.at_level(logging.WARNING, logger="bulkdel.redis"):
        assert await wait.call(flaky, _stop(clock)) == "ok"
    assert flaky.calls == 4
    lines = [r.getMessage() for r in caplog.records if r.name == "bulkdel.redis"]
    assert lines[0].startswith("Redis at redis://:***@h:1/0 does not answer (refused)")
    assert lines[-1].startswith("Redis at redis://:***@h:1/0 answers again after")
    assert not any(SECRET in line for line in lines)


async def test_a_long_outage_says_so_now_and_then_then_gives_up_at_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past ``total`` seconds: RedisUnavailableError naming the URL; a status line about
    every ``status_every`` seconds with the time waited, not one an attempt."""
    clock = VirtualClock()
    wait = RedisWait(f"redis://:{SECRET}@h:1/0", total=60, status_every=10)
    flaky = _Flaky(*(rx.ConnectionError("refused") for _ in range(10_000)))
    with (
        caplog.at_level(logging.WARNING, logger="bulkdel.redis"),
        pytest.raises(RedisUnavailableError) as caught,
    ):
        await wait.call(flaky, _stop(clock))
    assert 60 <= clock.now <= 60.001
    assert str(caught.value).startswith("cannot use Redis at redis://:***@h:1/0: refused")
    assert "waited 60s" in str(caught.value)
    lines = [r.getMessage() for r in caplog.records if r.name == "bulkdel.redis"]
    assert 4 <= len(lines) <= 7 < flaky.calls
    assert "still does not answer after" in lines[1]


@pytest.mark.parametrize(
    "error",
    [
        rx.AuthenticationError("invalid username-password pair"),
        rx.OutOfMemoryError("command not allowed when used memory > 'maxmemory'."),
        rx.InvalidResponse("Protocol Error: garbage"),
    ],
)
async def test_a_fatal_error_raises_at_once(error: BaseException) -> None:
    """No wait at all for a refused password, OOM, or a server that is not Redis."""
    clock = VirtualClock()
    flaky = _Flaky(error)
    with pytest.raises(RedisError) as caught:
        await RedisWait(f"redis://:{SECRET}@h:1/0").call(flaky, _stop(clock))
    assert not isinstance(caught.value, RedisUnavailableError)
    assert flaky.calls == 1 and clock.slept == []
    assert caught.value.url == "redis://:***@h:1/0" and SECRET not in str(caught.value)


async def test_an_operation_may_be_a_lambda_returning_an_awaitable() -> None:
    """What the jobs pass (``lambda: client.xlen(key)``) is awaited, every attempt."""
    flaky = _Flaky(rx.ConnectionError("refused"))
    answer = await RedisWait("redis://h:1/0").call(lambda: flaky(), _stop(VirtualClock()))
    assert answer == "ok" and flaky.calls == 2


async def test_other_errors_pass_through_untouched() -> None:
    """A script's own answer (NOGROUP) is the caller's business."""
    error = rx.ResponseError("NOGROUP no such group")
    with pytest.raises(rx.ResponseError) as caught:
        await RedisWait("redis://h:1/0").call(_Flaky(error), _stop(VirtualClock()))
    assert caught.value is error


async def test_a_stop_ends_the_wait_with_the_reason_said_once() -> None:
    """A SIGTERM during an outage raises Stopped whose text is not doubled."""
    clock = VirtualClock()
    stop = _stop(clock)
    refusals = [rx.ConnectionError("refused") for _ in range(10_000)]

    class _StopLater(_Flaky):
        async def __call__(self) -> str:
            if self.calls == 3:
                stop.set(Abort(AbortReason.INTERRUPTED, "SIGTERM"))
            return await super().__call__()

    with pytest.raises(Stopped) as caught:
        await RedisWait("redis://h:1/0").call(_StopLater(*refusals), stop)
    assert str(caught.value) == "interrupted by SIGTERM"
    assert str(Stopped(Abort(AbortReason.STOPPED, "interrupted by SIGTERM"))) == (
        "stopped: interrupted by SIGTERM"
    )


def test_the_wait_bound_is_checked() -> None:
    """A negative bound is refused, naming the parameter."""
    with pytest.raises(UsageError, match="total must be >= 0"):
        RedisWait("redis://h:1/0", total=-1)
    assert "***" in repr(RedisWait(f"redis://:{SECRET}@h:1/0"))
