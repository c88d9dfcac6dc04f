"""The fake server's rate limits: a per-second token bucket, ImageKit-style fixed windows,
refusals by the account's other traffic, and the headers a 429 carries.

Pure and clock-driven (no aiohttp), so that a simulation can run the very limiter the fake
serves with.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class RateWindow:
    """At most ``limit`` requests per fixed window of ``interval`` seconds (ImageKit style)."""

    limit: int
    interval: float


class LimitHeaders(StrEnum):
    """What a 429 says about the limit."""

    FULL = "full"  #: ImageKit's X-RateLimit-Limit, -Reset and -Interval
    RETRY_AFTER = "retry-after"  #: only Retry-After, in whole seconds (rounded up)
    NONE = "none"  #: nothing at all


def rate_limit_headers(limit: int, reset: float, interval: float) -> dict[str, str]:
    """ImageKit's 429 headers; times in whole milliseconds, reset rounded up."""
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Reset": str(max(1, math.ceil(reset * 1000))),
        "X-RateLimit-Interval": str(round(interval * 1000)),
    }


def refusal_headers(
    mode: LimitHeaders, limit: int, reset: float, interval: float
) -> dict[str, str]:
    """The headers of a 429 in ``mode``."""
    if mode is LimitHeaders.FULL:
        return rate_limit_headers(limit, reset, interval)
    if mode is LimitHeaders.RETRY_AFTER:
        return {"Retry-After": str(max(1, math.ceil(reset)))}
    return {}


class Limiter:
    """A token bucket for "R per second" plus ImageKit-style fixed windows.

    The per-second limit is a bucket of ``rate`` tokens refilled continuously, so a client
    pacing itself at exactly ``rate`` is never refused; longer windows are fixed, so once spent
    the client must wait for the window to reset, which may be many seconds.

    Args:
        rate: requests per second of the bucket, None for no per-second limit.
        windows: fixed windows.
        clock: monotonic clock.
        headers: what a 429 says.
        other_traffic: share of requests refused at random, as if the account's other traffic
            had just spent the limit (the 429 states the limit in full).
        seed: of the random refusals.
        burst: tokens the bucket holds, full at the start (None: one second of ``rate``); a
            429 states ``rate`` as the limit either way.
    """

    def __init__(
        self,
        rate: float | None,
        windows: Iterable[RateWindow],
        clock: Callable[[], float],
        *,
        headers: LimitHeaders = LimitHeaders.FULL,
        other_traffic: float = 0.0,
        seed: int = 0,
        burst: float | None = None,
    ) -> None:
        #: requests per second of the token bucket, None when unlimited
        self.rate = rate
        self.headers = headers
        self.other_traffic = other_traffic
        self._random = random.Random(seed)
        self._burst = burst
        self._capacity = max(1.0, burst or rate or 0.0)
        self._tokens = self._capacity
        self._last = clock()
        self._windows = list(windows)
        self._window_start = [clock()] * len(self._windows)
        self._window_used = [0] * len(self._windows)
        self._clock = clock

    @property
    def active(self) -> bool:
        """Whether any request can be refused."""
        return self.rate is not None or bool(self._windows) or self.other_traffic > 0

    def set_rate(self, rate: float | None) -> None:
        """Change the per-second limit (a plan change, or a test's limit that moves)."""
        self.rate = rate
        self._capacity = max(1.0, self._burst or rate or 0.0)
        self._tokens = min(self._tokens, self._capacity)

    def refusal(self, limit: int, reset: float, interval: float) -> dict[str, str]:
        """The headers of a 429 for this limiter's header mode."""
        return refusal_headers(self.headers, limit, reset, interval)

    def admit(self) -> dict[str, str] | None:
        """Take one request; None if admitted, else the 429 headers."""
        now = self._clock()
        refused = self._window_refusal(now)
        if self.rate is not None:
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1.0 and refused is None:
                stated = int(self._capacity) if self._burst is None else max(1, int(self.rate))
                refused = (stated, (1.0 - self._tokens) / self.rate, 1.0)
        if refused is None and self.other_traffic and self._random.random() < self.other_traffic:
            # The others just took the last token: the limit is stated, the wait one token.
            limit = int(self.rate or 1000)
            refused = (limit, 1.0 / (self.rate or 1000), 1.0)
        if refused is not None:
            return self.refusal(*refused)
        if self.rate is not None:
            self._tokens -= 1.0
        for i in range(len(self._windows)):
            self._window_used[i] += 1
        return None

    def _window_refusal(self, now: float) -> tuple[int, float, float] | None:
        """The (limit, reset s, interval s) of the spent window that resets last, or None."""
        refused: tuple[int, float, float] | None = None
        for i, window in enumerate(self._windows):
            elapsed = now - self._window_start[i]
            if elapsed >= window.interval:
                self._window_start[i] += window.interval * math.floor(elapsed / window.interval)
                self._window_used[i] = 0
            if self._window_used[i] >= window.limit:
                reset = self._window_start[i] + window.interval - now
                if refused is None or reset > refused[1]:
                    refused = (window.limit, reset, window.interval)
        return refused
