"""An account budget kept in Redis: every process holding it, on any host, shares one pace,
one gate and one adaptive controller.

* A turn is one round trip: ``budget.lua`` reserves the next slot of a GCRA pacer on the
  Redis server's clock (never a host's, so clock skew changes nothing) and the caller sleeps
  locally until it. Successes are not sent on their own: the next turn's call carries them.
  A 429 is reported at once (one more round trip): it may close the gate and slow the pace.
* Within a process, jobs (leases) take turns round robin and only the job at the head asks
  Redis, so a process holds at most one reservation; across processes the GCRA order splits
  the pace, and several independent processes split it as jobs in one process do.
* Fail closed: while Redis is unreachable no turn is granted; the caller waits as
  ``RedisWait`` says (capped backoff, through its stop signal, at most ``RedisWait.total``
  seconds). When Redis cannot be used (a refused password, out of memory, not Redis, or an
  outage past the bound) the lease sets the job's stop with ``Abort(AbortReason.FATAL)``
  naming the redacted URL and the cause: the job ends with its report, exit 3.

Connecting is ``bulkdel.core.redis_connection``'s; the ``redis`` package is imported only when a
``RedisBudget`` is made from a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..core.redis_connection import RedisWait, Verdict, classify, connect, describe, url_of
from ..errors import RedisError, Stopped, UsageError
from ..models import Abort, AbortReason, Kind, Outcome
from . import Turn
from . import redis_scripts as scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

    from ..core.stop import StopSignal

log = logging.getLogger("bulkdel.budget")

#: longest local sleep before asking Redis again while no slot is near
MAX_POLL: Final = 1.0
#: successes held back for the next turn's call at most; more are counted on their own
MAX_PENDING: Final = 256


class RedisBudget:
    """The request budget of one account, shared through Redis by every process holding it.

    Args:
        redis: a Redis URL (``bulkdel.core.redis_connection.connect``), or a
            ``redis.asyncio.Redis`` client (closed by its owner).
        base_url: the API's base URL; with ``private_key``, names the account's keys.
        private_key: only hashed into the key names; never stored or sent.
        rate: None adapts (one controller for every process); a number paces the whole
            account at exactly that many requests per second.
        wait: how long to wait for Redis through an outage (shared with the client's other
            users, so that an outage is one outage); ``RedisWait`` defaults if None.

    Raises:
        UsageError: a bad URL, the ``redis`` package is missing, or ``rate`` is not positive.
    """

    def __init__(
        self,
        redis: str | Redis,
        *,
        base_url: str,
        private_key: str,
        rate: float | None = None,
        wait: RedisWait | None = None,
    ) -> None:
        if rate is not None and not rate > 0:
            raise UsageError(f"rate must be > 0, got {rate}")
        self._owned = isinstance(redis, str)
        self._redis: Redis = connect(redis) if isinstance(redis, str) else redis
        self._wait = wait or RedisWait(redis if isinstance(redis, str) else url_of(self._redis))
        self._script: AsyncScript = self._redis.register_script(scripts.SOURCE)
        self._keys = scripts.keys(scripts.key_prefix(base_url, private_key))
        self._cfg = scripts.config(rate)
        self._fixed = rate is not None
        self._pending: list[float] = []
        self._fair = _RoundRobin()
        self._last: scripts.Reply | None = None
        self._last_at = 0.0
        self._rate = rate
        #: script calls made (each one round trip when Redis answers)
        self.round_trips = 0

    def __repr__(self) -> str:
        return f"RedisBudget({self._wait.url!r}, keys={self._keys[0]!r}, rate={self._rate!r})"

    async def __aenter__(self) -> RedisBudget:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client if this budget made it from a URL."""
        if self._owned:
            await self._redis.aclose()

    def lease(self, stop: StopSignal) -> RedisLease:
        """A hold for one job, whose waits end when ``stop`` is set."""
        return RedisLease(self, stop)

    @property
    def rate(self) -> float | None:
        """Requests per second the account was paced at, at the last round trip."""
        return self._rate

    def gate_wait(self) -> float:
        """Seconds until the gate opens, as the last round trip said (0 when open)."""
        last = self._last
        if last is None or last.gate is None:
            return 0.0
        return max(0.0, last.gate - last.now - (time.monotonic() - self._last_at))

    async def _take(self, stop: StopSignal) -> Turn:
        """Reserve a slot (asking again while none is near) and sleep until it."""
        while True:
            pending, self._pending = self._pending, []
            reply = await self._call(scripts.take_args(self._cfg, pending), stop)
            if reply.verdict == "go":
                assert reply.slot is not None
                await stop.sleep(reply.delay)
                return Turn(reply.slot)
            await stop.sleep(min(max(reply.delay - scripts.HORIZON / 2, 0.001), MAX_POLL))

    async def _report(self, turn: Turn, outcome: Outcome, stop: StopSignal) -> None:
        if outcome.kind is Kind.TRANSIENT or outcome.status is None:
            # No rate signal, but the turn leaves the slow start's window (a negative time
            # says so to the script).
            if not self._fixed:
                self._pending.append(-turn.granted_at)
            return
        if outcome.kind is not Kind.THROTTLED:
            if not self._fixed:
                self._pending.append(turn.granted_at)
                if len(self._pending) >= MAX_PENDING:
                    await self._flush(stop)
            return
        if self._fixed and outcome.limit is None:
            return  # a fixed pace learns nothing, and only a stated window closes the gate
        args = scripts.report_args(
            self._cfg,
            turn.granted_at,
            refused=True,
            limit=outcome.limit,
            interval=outcome.interval,
            retry_after=outcome.retry_after,
        )
        await self._call(args, stop)

    async def _flush(self, stop: StopSignal, *, patient: bool = True) -> None:
        """Count the successes held back (a job ends, or too many wait)."""
        if self._pending:
            pending, self._pending = self._pending, []
            args = scripts.take_args(self._cfg, pending, reserve=False)
            await self._call(args, stop, patient=patient)

    async def _call(
        self, args: list[str], stop: StopSignal, *, patient: bool = True
    ) -> scripts.Reply:
        """One script call; through an outage, as the wait policy says (once if not patient).

        Raises:
            Stopped: ``stop`` was set while waiting to try again.
            RedisError: Redis cannot be used (``RedisUnavailableError``: not within the wait).
        """

        async def attempt() -> Any:
            self.round_trips += 1
            return await self._script(keys=self._keys, args=args)

        if patient:
            raw = await self._wait.call(attempt, stop)
        else:
            try:
                raw = await attempt()
            except Exception as error:
                if classify(error) is Verdict.OTHER:
                    raise
                raise RedisError(self._wait.url, describe(error)) from None
        reply = scripts.Reply.parse(raw)
        self._last, self._last_at, self._rate = reply, time.monotonic(), reply.rate
        return reply


class RedisLease:
    """One job's hold on a ``RedisBudget`` (made by ``RedisBudget.lease``)."""

    __slots__ = ("_budget", "_left", "_stop")

    def __init__(self, budget: RedisBudget, stop: StopSignal) -> None:
        self._budget = budget
        self._stop = stop
        self._left = asyncio.Event()

    async def turn(self) -> Turn:
        """Wait for this job's turn in the process, then for the account's next slot.

        Raises:
            Stopped: the job's stop signal was set, or the lease released, while waiting.
        """
        if self._left.is_set():
            raise Stopped(self._stop.reason)
        self._stop.check()
        try:
            return await self._race()
        except RedisError as error:
            # Waiting cannot help (or may no longer): the job ends, with its report, for
            # this reason (a stop that came first keeps its own).
            self._stop.set(Abort(AbortReason.FATAL, str(error)))
            raise Stopped(self._stop.reason) from None

    async def _race(self) -> Turn:
        # One race for the whole turn: a stop or a release ends it wherever it waits.
        taking = asyncio.ensure_future(self._turn())
        ending = [asyncio.ensure_future(event.wait()) for event in (self._left, self._stop)]
        try:
            await asyncio.wait({taking, *ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in ending:
                waiting.cancel()
            taking.cancel()
            # A turn that ends as the stop comes may still finish with ``Stopped`` after we
            # leave: retrieve it then, or asyncio prints "exception was never retrieved".
            taking.add_done_callback(_retrieve)
        if taking.done() and not taking.cancelled():
            return taking.result()
        raise Stopped(self._stop.reason)

    async def _turn(self) -> Turn:
        # Unpaced too, one turn at a time per process: asking Redis turn by turn is what
        # keeps an unpaced start from flooding the server before its first 429 is known
        # (measured: letting a process's turns ask at once, or reserve several slots a call,
        # doubled the 429s of three processes' first contact with a limit).
        fair = self._budget._fair
        await fair.acquire(self)
        try:
            return await self._budget._take(self._stop)
        finally:
            fair.release()

    async def observe(self, turn: Turn, outcome: Outcome) -> None:
        """What the request sent on ``turn`` got back; a 429 reaches Redis at once."""
        # Stopping: what the answer said about the pace no longer matters.
        try:
            await self._budget._report(turn, outcome, self._stop)
        except Stopped:
            pass
        except RedisError as error:
            self._stop.set(Abort(AbortReason.FATAL, str(error)))

    async def release(self) -> None:
        """Leave: this job's waits end; held-back successes are counted if Redis answers."""
        if self._left.is_set():
            return
        self._left.set()
        self._budget._fair.drop(self)
        # One attempt: a job must be able to end while Redis is down.
        with contextlib.suppress(Stopped, RedisError):
            await self._budget._flush(self._stop, patient=False)


class _RoundRobin:
    """One waiter at a time holds the head; it passes to the lease served longest ago."""

    __slots__ = ("_held", "_served", "_tick", "_waiting")

    def __init__(self) -> None:
        self._held = False
        self._waiting: dict[object, deque[asyncio.Future[None]]] = {}
        #: lease -> when it last held the head (a count of hand-overs)
        self._served: dict[object, int] = {}
        self._tick = 0

    async def acquire(self, owner: object) -> None:
        """Until ``owner``'s waiter holds the head."""
        if not self._held and not self._waiting:
            self._held = True
            self._serve(owner)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(owner, deque()).append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the head came with the stop: pass it on
            else:
                waiter.cancel()
            raise

    def release(self) -> None:
        """Pass the head to the waiting lease served longest ago (or free it)."""
        while self._waiting:
            owner = min(self._waiting, key=lambda o: self._served.get(o, -1))
            queue = self._waiting[owner]
            waiter = queue.popleft()
            if not queue:
                del self._waiting[owner]
            if not waiter.done():
                self._serve(owner)
                waiter.set_result(None)
                return
        self._held = False

    def drop(self, owner: object) -> None:
        """``owner`` leaves the rotation (its waiters were cancelled)."""
        self._served.pop(owner, None)

    def _serve(self, owner: object) -> None:
        self._tick += 1
        self._served[owner] = self._tick


def _retrieve(task: asyncio.Future[Turn]) -> None:
    if not task.cancelled():
        task.exception()
