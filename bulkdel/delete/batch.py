"""One batch at a time, for code that already runs its own workers (a task queue).

``delete_batch(ids, private_key=...)`` sends at most 100 ids through the same batch runner
as ``delete_files`` (the account's budget, retries with backoff, the 404 re-send, the 400
halving, the 207 retries) and returns a ``BatchOutcome``: every id's final bucket, as a value
that serialises to JSON (``to_json``/``from_json``), so that a task can return it and whoever
collects the results can add them up. The outcome of a distributed job's batch
(``bulkdel.jobs``) is the same type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import aiohttp

from ..budget import AccountBudget, budget_for
from ..engine.batch_outcome import BatchOutcome
from ..engine.run import Run
from ..engine.runner import BatchSender
from ..engine.validate import id_problem, refuse_text
from ..errors import FatalAPIError, UsageError
from ..imagekit import DEFAULT_BASE_URL, DeleteClient
from ..models import MAX_BATCH, Kind, Outcome, Settings
from ..record.ledger import Ledger

__all__ = ["MAX_BATCH", "BatchOutcome", "delete_batch"]

_SOURCE = "<batch>"


async def delete_batch(
    file_ids: Sequence[str],
    *,
    private_key: str,
    base_url: str = DEFAULT_BASE_URL,
    budget: AccountBudget | None = None,
    session: aiohttp.ClientSession | None = None,
    rate: float | None = None,
    max_attempts: int = 6,
    timeout: float = 30.0,  # noqa: ASYNC109 - per request, not for the whole call
    in_flight_earlier: bool = False,
    backoff_base: float = 0.5,
) -> BatchOutcome:
    """Delete one batch of at most 100 ids from ImageKit and say what became of each.

    Args:
        file_ids: the ids (a repeated id is sent once and listed once).
        private_key: the account's ImageKit private key (never logged or returned).
        base_url: the API's root.
        budget: the account's budget; default: this process's (``budget_for``), kept
            between calls. Workers in several processes share a ``RedisBudget``.
        session: an aiohttp session to send through (left open); one of its own if None.
        rate: at most this many requests per second for this call, within the budget.
        max_attempts: tries per id for 5xx, timeouts and dropped connections.
        timeout: seconds for one request.
        in_flight_earlier: this batch may have been sent before (a task queue's retry of a
            task whose worker died): a 404 for its ids then counts as missing after retry.
        backoff_base: the first retry's backoff, seconds (capped exponential, full jitter).

    Returns:
        Every id's bucket (``deleted``, ``missing``, ``missing_after_retry``, ``failed``).

    Raises:
        UsageError: more than 100 ids, an invalid id, or a bad setting (nothing was sent).
        FatalAPIError: the API refused the key (401/403) or is not ImageKit's; ids not yet
            answered were not sent.
    """
    unique = _checked(file_ids)
    settings = Settings(
        base_url=base_url,
        batch_size=MAX_BATCH,
        concurrency=1,
        rate=rate,
        max_attempts=max_attempts,
        timeout=timeout,
        backoff_base=backoff_base,
    )
    budget = budget or _kept_budget(settings.base_url, private_key)
    async with DeleteClient.for_settings(private_key, settings, session=session) as client:
        return await _run(_Watch(client), settings, budget, unique, in_flight_earlier)


def _checked(file_ids: Sequence[str]) -> list[str]:
    """The ids once each, in order.

    Raises:
        UsageError: one str or bytes instead of a list, more than ``MAX_BATCH`` ids, or one
            that is not a file id.
    """
    refuse_text(file_ids, "file_ids")
    unique = list(dict.fromkeys(file_ids))
    if len(unique) > MAX_BATCH:
        raise UsageError(f"file_ids: at most {MAX_BATCH} ids a batch, got {len(unique)}")
    for file_id in unique:
        problem = id_problem(file_id)
        if problem is not None:
            raise UsageError(f"file_ids: {file_id!r:.80} is not a file id: {problem}")
    return unique


#: the default budgets used by ``delete_batch``, held between calls (a task queue's worker
#: calls it once a task: a budget made afresh each time would start slow each time), least
#: recently used first
_KEPT: dict[tuple[str, str], AccountBudget] = {}
#: accounts whose budget is kept: a service serving many accounts lets the oldest go (its
#: next call starts slow, as a first call does)
_KEPT_ACCOUNTS = 32


def _kept_budget(base_url: str, private_key: str) -> AccountBudget:
    budget = budget_for(base_url, private_key)
    # budget_for's registry holds budgets weakly: keep each account's here (by a hash of
    # the key, as the registry does).
    digest = hashlib.sha256(private_key.encode()).hexdigest()
    key = (base_url.rstrip("/"), digest)
    _KEPT.pop(key, None)  # re-inserted last: the most recently used
    _KEPT[key] = budget
    while len(_KEPT) > _KEPT_ACCOUNTS:
        del _KEPT[next(iter(_KEPT))]
    return budget


async def _run(
    sender: _Watch,
    settings: Settings,
    budget: AccountBudget,
    file_ids: list[str],
    in_flight_earlier: bool,
) -> BatchOutcome:
    # A run of its own and nothing more: no reader, no de-duplication table (the ids are
    # unique already), no work pool.
    run = Run(sender, settings, Ledger(), budget=budget)
    try:
        outcome = await run.runner.process(file_ids, file_ids if in_flight_earlier else ())
    finally:
        await run.finish()
    fatal = sender.fatal
    if fatal is not None:
        raise FatalAPIError(fatal.status or 0, fatal.message)
    return outcome


class _Watch:
    """The client, remembering a fatal answer (the pipeline turns it into a stop)."""

    __slots__ = ("_sender", "fatal")

    def __init__(self, sender: BatchSender) -> None:
        self._sender = sender
        self.fatal: Outcome | None = None

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        outcome = await self._sender.delete_batch(file_ids)
        if outcome.kind is Kind.FATAL and self.fatal is None:
            self.fatal = outcome
        return outcome
