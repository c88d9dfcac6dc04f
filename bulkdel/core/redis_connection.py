"""Connecting to Redis and waiting for it: the one place the budget, the jobs and the CLI use.

* ``connect(url)`` checks the URL (``redis://``, ``rediss://`` for TLS, ``unix://``) and makes
  the client with this module's timeouts and decoding. redis-py's own retries are switched
  off: waiting for Redis is ``RedisWait``'s alone, so that no hidden retry runs a script twice.
* ``ping(client, url)`` is the start-up check: one PING, answered within ``START_TIMEOUT``
  seconds, or a ``bulkdel.errors.RedisError`` naming the URL and the cause.
* ``RedisWait`` waits out an outage (connection refused or reset, a timeout, a server still
  loading its data, a replica not promoted yet) with capped exponential backoff, through the
  caller's ``StopSignal``, for at most ``total`` seconds (``--redis-wait``), then raises
  ``RedisUnavailableError``. What waiting cannot fix (a refused password, Redis out of memory,
  a server that does not speak Redis) raises ``RedisError`` at once.
* ``redacted(url)`` is the URL as every message, repr and log line shows it: never a password.

Decoding, chosen once: every client decodes replies to ``str`` (UTF-8). The jobs read ids,
states and stream fields as text; the budget's reply parser takes ``str`` or ``bytes``
(``budget.redis_scripts.Reply.parse``), so a worker's jobs and its account budget share one
client. Nothing in bulkdel needs bytes.

The ``redis`` package is imported only when a client is made or an error classified.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import RedisError, RedisUnavailableError, UsageError
from .retry import Backoff, Retry

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .clock import Clock
    from .stop import StopSignal

T = TypeVar("T")
log = logging.getLogger("bulkdel.redis")

#: the environment variable a Redis URL is read from when none is given
REDIS_ENV: Final = "BULKDEL_REDIS_URL"
SCHEMES: Final = ("redis", "rediss", "unix")
#: what every "no redis package" error says
MISSING_PACKAGE: Final = "the redis package is missing: pip install 'bulkdel[redis]'"
#: seconds one command may take; a stall longer than this is an outage
SOCKET_TIMEOUT: Final = 5.0
#: seconds to open a connection
CONNECT_TIMEOUT: Final = 2.0
#: a connection idle this long is PINGed before it is used (a dead one is found at once)
HEALTH_CHECK_INTERVAL: Final = 30
#: seconds the start-up check waits for Redis's first answer
START_TIMEOUT: Final = 3.0
#: ``--redis-wait``'s default, seconds: a Sentinel failover (30 s to notice, 180 s
#: ``failover-timeout``) or a restart that loads a few GB of AOF fits; an outage longer than
#: five minutes is an incident someone should look at, not something to sleep through
DEFAULT_WAIT: Final = 300.0
#: first and longest backoff step while Redis does not answer, seconds
BACKOFF_BASE: Final = 0.05
BACKOFF_MAX: Final = 5.0
#: seconds between two "still waiting" lines of one outage
STATUS_EVERY: Final = 10.0
#: a cause longer than this is cut (a garbage answer can be long)
_CAUSE_MAX: Final = 160
#: replies that say "never mind waiting": the password, the ACL, memory
_FATAL_REPLY: Final = re.compile(r"\b(NOAUTH|WRONGPASS|NOPERM|OOM)\b")
_OOM: Final = re.compile(r"\bOOM\b")


class Verdict(enum.Enum):
    """What an error raised by a Redis call means for the caller."""

    OUTAGE = "outage"  #: Redis is down or coming back: wait and try again
    FATAL = "fatal"  #: waiting cannot fix it: stop now
    OTHER = "other"  #: not about reaching Redis (a script's own answer): the caller's


def redacted(url: str) -> str:
    """``url`` with its password (and any ``password=`` query value) shown as ``***``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - a bad port raises here, not later
    except ValueError:
        scheme = url.partition("://")[0] if "://" in url else ""
        return f"{scheme}://(unparseable)" if scheme.isalnum() else "(unparseable Redis URL)"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{host}" if colon else f"***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def check_url(url: str) -> None:
    """Refuse a Redis URL that redis-py would refuse (or misread), before anything connects.

    Raises:
        UsageError: empty, another scheme, a bad port, or a query value redis-py refuses.
    """
    if not url:
        raise UsageError("the Redis URL is empty; give one like redis://localhost:6379/0")
    shown = redacted(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError as error:
        raise UsageError(f"the Redis URL {shown} cannot be parsed: {error}") from None
    if parts.scheme not in SCHEMES:
        raise UsageError(
            f"the Redis URL {shown} must start with redis://, rediss:// (TLS) or unix://"
        )
    if parts.scheme == "unix" and not parts.path:
        raise UsageError(f"the Redis URL {shown} names no socket path (unix:///path/to/sock)")


def connect(url: str, **options: Any) -> Redis:
    """An asyncio Redis client for ``url``, with this module's timeouts and decoding.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS) or
            ``unix://[[user]:password@]/path[?db=N]``.
        options: passed to ``Redis.from_url`` over this module's settings (tests).

    Raises:
        UsageError: a bad URL, or the ``redis`` package is not installed.
    """
    check_url(url)
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:  # pragma: no cover - the test extra installs it
        raise UsageError(MISSING_PACKAGE) from None
    settings: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": SOCKET_TIMEOUT,
        "socket_connect_timeout": CONNECT_TIMEOUT,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        # No retry inside redis-py: a script retried after a lost answer may run twice, and one
        # policy (RedisWait) owns how long to wait.
        "retry": Retry(NoBackoff(), 0),
        **options,
    }
    try:
        client: Redis = Redis.from_url(url, **settings)
    except ValueError as error:  # a query value redis-py cannot parse
        raise UsageError(f"the Redis URL {redacted(url)}: {error}") from None
    return client


def url_of(client: Redis) -> str:
    """Where ``client`` connects, as a URL without credentials (for messages)."""
    kwargs = client.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={db}"
    scheme = "rediss" if "SSL" in client.connection_pool.connection_class.__name__ else "redis"
    return f"{scheme}://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{db}"


async def ping(client: Redis, url: str) -> None:
    """The start-up check: Redis answers a PING within ``START_TIMEOUT`` seconds.

    Raises:
        RedisError: no answer, a refused password, or a server that is not Redis; its
            message names ``redacted(url)`` and the cause.
    """
    try:
        async with asyncio.timeout(START_TIMEOUT):
            await client.ping()
    except TimeoutError:
        raise RedisError(redacted(url), f"no answer within {START_TIMEOUT:g}s") from None
    except Exception as error:  # every failure at start is fatal: nothing was done yet
        if classify(error) is Verdict.OTHER:
            raise
        raise RedisError(redacted(url), describe(error, url)) from None


def _redis_errors() -> Any:
    try:
        from redis import exceptions
    except ImportError:  # pragma: no cover - no redis package: no redis error either
        return None
    return exceptions


def classify(error: BaseException) -> Verdict:
    """Outage, fatal or other, by the error's type (and a reply's error code).

    ``AuthenticationError`` and ``AuthorizationError`` subclass ``ConnectionError``: they are
    looked at first, so a refused password is never waited on.
    """
    rx = _redis_errors()
    if rx is not None:
        if isinstance(
            error,
            rx.AuthenticationError
            | rx.AuthorizationError
            | rx.NoPermissionError
            | rx.OutOfMemoryError
            | rx.InvalidResponse,
        ):
            return Verdict.FATAL
        if isinstance(error, rx.ResponseError) and _FATAL_REPLY.search(str(error)):
            return Verdict.FATAL  # a script's error carries the code inside its text
        # A server loading its AOF after a restart answers LOADING (a ConnectionError), a
        # replica not promoted yet after a failover READONLY: both are coming back.
        if isinstance(error, rx.ConnectionError | rx.TimeoutError | rx.ReadOnlyError):
            return Verdict.OUTAGE
    if isinstance(error, OSError):  # refused, reset, DNS; TimeoutError is one too
        return Verdict.OUTAGE
    return Verdict.OTHER


def describe(error: BaseException, url: str = "") -> str:
    """The cause of ``error`` in a few words, for one line (never a password)."""
    rx = _redis_errors()
    text = " ".join(str(error).split()) or type(error).__name__
    if rx is not None:
        if isinstance(error, rx.AuthenticationError) and "required" in text:
            text = f"Redis wants a password, give it in the URL as :PASSWORD@ ({text})"
        elif isinstance(error, rx.AuthenticationError | rx.AuthorizationError):
            text = f"the password was refused ({text})"
        elif isinstance(error, rx.NoPermissionError):
            text = f"the user may not run this command ({text})"
        elif isinstance(error, rx.OutOfMemoryError) or _OOM.search(text):
            text = f"Redis is out of memory (maxmemory reached, no eviction): {text}"
        elif isinstance(error, rx.InvalidResponse):
            text = f"the server there does not answer as Redis does ({text})"
        elif isinstance(error, rx.TimeoutError):
            text = f"no answer within {SOCKET_TIMEOUT:g}s ({text})"
    password = urlsplit(url).password if url else None
    if password:
        text = text.replace(password, "***")
    return text if len(text) <= _CAUSE_MAX else text[: _CAUSE_MAX - 1] + "…"


class RedisWait:
    """How long and how to wait for one Redis: the one wait policy of bulkdel.

    One instance is shared by every user of a client (a worker's job calls and its
    budget), so an outage is one outage: one status line every ``status_every`` seconds,
    and one bound, counted from its first failed call.

    Args:
        url: the Redis URL (shown redacted).
        total: seconds an outage may last before ``RedisUnavailableError``.
        base: first backoff step, seconds (tests pass a small one).
        cap: longest backoff step, seconds.
        status_every: seconds between two "still waiting" lines.
    """

    __slots__ = ("_down_since", "_said_at", "base", "cap", "status_every", "total", "url")

    def __init__(
        self,
        url: str,
        *,
        total: float = DEFAULT_WAIT,
        base: float = BACKOFF_BASE,
        cap: float = BACKOFF_MAX,
        status_every: float = STATUS_EVERY,
    ) -> None:
        if not total >= 0:
            raise UsageError(f"total must be >= 0 seconds, got {total}")
        #: the URL, redacted
        self.url = redacted(url)
        self.total = total
        self.base = base
        self.cap = cap
        self.status_every = status_every
        #: clock time of the current outage's first failure, or None while Redis answers
        self._down_since: float | None = None
        self._said_at = 0.0

    def __repr__(self) -> str:
        return f"RedisWait({self.url!r}, total={self.total!r})"

    async def call(self, operation: Callable[[], Awaitable[T]], stop: StopSignal) -> T:
        """``await operation()``, again while Redis has an outage, up to ``total`` seconds.

        Args:
            operation: one Redis call (idempotent, or atomic so that a retry is harmless).
            stop: its ``sleep`` is the wait between attempts; a stop ends the wait.

        Raises:
            RedisError: waiting cannot help (the password, memory, not Redis).
            RedisUnavailableError: Redis did not answer for ``total`` seconds.
            Stopped: ``stop`` was set while waiting.
        """
        clock = stop.clock
        retry = Retry(
            Backoff(self.base, self.cap),
            clock=clock,
            stop=stop,
            deadline=lambda: self._deadline(clock.time()),
            retry_on=self._note_outage(clock),
        )
        try:
            result: T = await retry(operation)
        except Exception as error:
            verdict = classify(error)
            if verdict is Verdict.FATAL:
                raise RedisError(self.url, describe(error)) from None
            if verdict is Verdict.OUTAGE:
                since = self._down_since
                waited = 0.0 if since is None else clock.time() - since
                cause = f"{describe(error)}; waited {waited:.0f}s, the limit"
                raise RedisUnavailableError(self.url, cause) from None
            raise
        self._answered(clock.time())
        return result

    def _note_outage(self, clock: Clock) -> Callable[[BaseException], bool]:
        def retry(error: BaseException) -> bool:
            if classify(error) is not Verdict.OUTAGE:
                return False
            now = clock.time()
            if self._down_since is None:
                self._down_since = self._said_at = now
                log.warning(
                    "Redis at %s does not answer (%s); waiting up to %gs",
                    self.url,
                    describe(error),
                    self.total,
                )
            elif now - self._said_at >= self.status_every:
                self._said_at = now
                log.warning(
                    "Redis at %s still does not answer after %.0fs of at most %gs (%s)",
                    self.url,
                    now - self._down_since,
                    self.total,
                    describe(error),
                )
            return True

        return retry

    def _deadline(self, now: float) -> float:
        # None: another call saw Redis answer meanwhile; this failure starts a new outage
        start = self._down_since
        return (now if start is None else start) + self.total

    def _answered(self, now: float) -> None:
        if self._down_since is not None:
            log.warning("Redis at %s answers again after %.0fs", self.url, now - self._down_since)
            self._down_since = None


__all__ = [
    "DEFAULT_WAIT",
    "MISSING_PACKAGE",
    "REDIS_ENV",
    "RedisWait",
    "Verdict",
    "check_url",
    "classify",
    "connect",
    "describe",
    "ping",
    "redacted",
    "url_of",
]
