"""The account budget of one process: ``LocalBudget``, its leases, and the registry that lets
runs with the same base URL and key share one without being told.

Turns are handed out round-robin between the leases that are waiting for one, so a run's
share does not grow with its concurrency: two runs get about half each, whatever their
worker counts, and a run alone gets all of it. A released, stopped or cancelled lease leaves
the rotation at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import deque

from ..core.clock import LOOP_CLOCK, Clock
from ..core.lease import Turn
from ..core.stop import StopSignal
from ..models import Outcome
from .controller import PaceController
from .pace import Pace


class LocalBudget:
    """An account's request budget, shared by the runs of this process that hold it.

    Args:
        rate: the account's pace in requests per second for every run together, fixed;
            None (the default) learns it from the server's answers.
        slow_start: with ``rate`` None, begin at a small pace that doubles with each round
            of answers until the first 429 (``budget.controller``); False begins unpaced,
            spending the server's first burst (only where nothing else uses the account).
        clock: the clock the pace and the gate run on.

    Runs take a ``lease``; ``budget_for(base_url, key)`` gives every run of one account the
    same budget.
    """

    __slots__ = ("__weakref__", "_answered", "_clock", "_dispatcher", "_pace", "_rotation")

    def __init__(
        self, rate: float | None = None, *, slow_start: bool = True, clock: Clock = LOOP_CLOCK
    ) -> None:
        controller = (
            PaceController(starting=slow_start) if rate is None else PaceController.fixed_at(rate)
        )
        self._pace = Pace(controller)
        self._clock = clock
        #: leases with a waiting worker, in the order their next turn comes
        self._rotation: deque[LocalLease] = deque()
        self._dispatcher: asyncio.Task[None] | None = None
        #: set by every answer: the slow start's window may have room before its wait ends
        self._answered: asyncio.Event | None = None

    def __repr__(self) -> str:
        return f"LocalBudget(rate={self.rate!r})"

    @property
    def rate(self) -> float | None:
        """Requests per second the account is paced at now; None while unpaced."""
        return self._pace.rate

    def gate_wait(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        return self._pace.gate_wait(self._clock.time())

    def lease(self, stop: StopSignal) -> LocalLease:
        """A hold for one run, whose waits end (raising ``Stopped``) when ``stop`` is set."""
        return LocalLease(self, stop)

    def _grant_now(self) -> Turn | None:
        """A turn at once when nobody waits and the pace allows one, else None."""
        if self._rotation:
            return None
        now = self._clock.time()
        if self._pace.wait(now) > 0:
            return None
        return Turn(self._pace.grant(now))

    def _enqueue(self, lease: LocalLease) -> None:
        if lease not in self._rotation:
            self._rotation.append(lease)
        dispatcher = self._dispatcher
        # A dispatcher of a loop that was closed under it (a registry budget outlives
        # ``asyncio.run``) never runs again: start one on this loop.
        if dispatcher is None or dispatcher.get_loop() is not asyncio.get_running_loop():
            self._dispatcher = asyncio.ensure_future(self._dispatch())

    async def _dispatch(self) -> None:
        """Hand out turns at the pace, one lease after another, while anyone waits."""
        rotation = self._rotation
        try:
            while rotation:
                now = self._clock.time()
                wait = self._pace.wait(now)
                if wait > 0:
                    await self._nap(wait)
                    continue
                lease = rotation.popleft()
                waiter = lease._next_waiter()
                if waiter is None:
                    continue
                waiter.set_result(Turn(self._pace.grant(now)))
                if lease._has_waiters():
                    rotation.append(lease)
        finally:
            if self._dispatcher is asyncio.current_task():
                self._dispatcher = None

    async def _nap(self, seconds: float) -> None:
        """Sleep on the clock; in the slow start, only until the next answer."""
        if not self._pace.controller.starting:
            await self._clock.sleep(seconds)
            return
        answered = self._answered = asyncio.Event()
        napping = asyncio.ensure_future(self._clock.sleep(seconds))
        waking = asyncio.ensure_future(answered.wait())
        try:
            await asyncio.wait((napping, waking), return_when=asyncio.FIRST_COMPLETED)
        finally:
            napping.cancel()
            waking.cancel()
            self._answered = None

    def _report(self, turn: Turn, outcome: Outcome) -> None:
        self._pace.observe(self._clock.time(), turn.granted_at, outcome)
        if self._answered is not None:
            self._answered.set()

    def _leave(self, lease: LocalLease) -> None:
        if lease in self._rotation:
            self._rotation.remove(lease)
        self._leave_if_idle()

    def _leave_if_idle(self) -> None:
        """Stop the dispatcher when nobody waits any more (all stopped or cancelled)."""
        if any(lease._has_waiters() for lease in self._rotation):
            return
        self._rotation.clear()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            self._dispatcher = None


class LocalLease:
    """One run's hold on a ``LocalBudget`` (from ``budget.lease(stop)``)."""

    __slots__ = ("_budget", "_stop", "_waiters")

    def __init__(self, budget: LocalBudget, stop: StopSignal) -> None:
        self._budget = budget
        self._stop = stop
        #: futures of this run's workers waiting for a turn, oldest first
        self._waiters: deque[asyncio.Future[Turn]] = deque()

    async def turn(self) -> Turn:
        """Wait for the gate and this run's share of the pace.

        Raises:
            Stopped: the run's stop signal was set before or while waiting.
        """
        self._stop.check()
        budget = self._budget
        turn = budget._grant_now()
        if turn is not None:
            return turn
        waiter: asyncio.Future[Turn] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        budget._enqueue(self)
        stopping: asyncio.Future[None] = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait((waiter, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not waiter.done():
                waiter.cancel()  # the dispatcher skips it
                budget._leave_if_idle()
        self._stop.check()
        return waiter.result()

    async def observe(self, turn: Turn, outcome: Outcome) -> None:
        """What the request sent on ``turn`` got back."""
        self._budget._report(turn, outcome)

    async def release(self) -> None:
        """Leave the budget: the run's share goes to the others at once."""
        for waiter in self._waiters:
            waiter.cancel()
        self._waiters.clear()
        self._budget._leave(self)

    def _next_waiter(self) -> asyncio.Future[Turn] | None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _has_waiters(self) -> bool:
        waiters = self._waiters
        while waiters and waiters[0].done():
            waiters.popleft()
        return bool(waiters)


#: the budgets of this process, by base URL and a hash of the key; held only by their users
_REGISTRY: weakref.WeakValueDictionary[tuple[str, str], LocalBudget] = weakref.WeakValueDictionary()


def budget_for(base_url: str, private_key: str) -> LocalBudget:
    """The budget every run of this process shares for one account (made on first use).

    Only a SHA-256 of the key is kept. The budget lives while a run holds it.
    """
    digest = hashlib.sha256(private_key.encode()).hexdigest()
    key = (base_url.rstrip("/"), digest)
    budget = _REGISTRY.get(key)
    if budget is None:
        budget = _REGISTRY[key] = LocalBudget()
    return budget
