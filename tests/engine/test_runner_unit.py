"""The batch runner alone: one batch in, every id's outcome out, 207 re-sends included."""

from __future__ import annotations

import asyncio
import contextlib

from bulkdel.budget import LocalBudget
from bulkdel.engine.run import Run
from bulkdel.models import INTERRUPTED_UNKNOWN, Abort, AbortReason, FileError, Kind, Outcome
from bulkdel.models import Settings as RunSettings
from bulkdel.record.ledger import Ledger
from tests.helpers import hex_ids

FAST = RunSettings(backoff_base=0.001, backoff_max=0.002, max_attempts=3)


class Scripted:
    """Answers each request from a list of answers (then deletes everything); records what
    was sent and what the ledger held when each request left."""

    def __init__(self, ledger: Ledger, answers: list[object]) -> None:
        self.ledger = ledger
        self.answers = answers
        self.sent: list[list[str]] = []
        self.deleted_when_sent: list[int] = []

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        self.sent.append(list(file_ids))
        self.deleted_when_sent.append(self.ledger.counts.deleted)
        answer = self.answers.pop(0) if self.answers else None
        if callable(answer):
            result = answer(file_ids)
            if asyncio.iscoroutine(result):
                result = await result
            assert isinstance(result, Outcome)
            return result
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


def errors_for(locked: set[str]) -> object:
    def answer(file_ids: list[str]) -> Outcome:
        errors = tuple(FileError(i, "File is locked.") for i in file_ids if i in locked)
        deleted = tuple(i for i in file_ids if i not in locked)
        return Outcome(Kind.SUCCESS, 207, deleted=deleted, errors=errors)

    return answer


def make_run(answers: list[object], settings: RunSettings = FAST) -> tuple[Run, Scripted]:
    ledger = Ledger()
    sender = Scripted(ledger, answers)
    run = Run(sender, settings, ledger, budget=LocalBudget(slow_start=False))
    return run, sender


async def test_a_207s_errored_ids_are_sent_again_within_the_call() -> None:
    """The ids a 207 errored go out again in the same call, alone, and the call returns
    only when every id of the batch has its bucket."""
    ids = hex_ids(10)
    run, sender = make_run([errors_for(set(ids[:3]))])
    outcome = await run.runner.process(ids)
    assert outcome.complete and sorted(outcome.deleted) == sorted(ids)
    assert sender.sent == [ids, ids[:3]]
    assert run.ledger.counts.deleted == 10 and not run.ids.open


async def test_each_answer_reaches_the_ledger_before_the_next_request() -> None:
    """A deletion is on record (the ledger, so the report files) as soon as its answer
    came, not when the batch's 207 re-sends are over: a crash in between loses nothing."""
    ids = hex_ids(10)
    run, sender = make_run([errors_for(set(ids[:3]))])
    await run.runner.process(ids)
    assert sender.deleted_when_sent == [0, 7]


async def test_ids_errored_on_every_attempt_fail_with_the_servers_reason() -> None:
    """An id a 207 errors on every attempt fails after ``max_attempts``, in the outcome and
    in the ledger alike."""
    ids = hex_ids(5)
    locked = {ids[0]}
    run, sender = make_run([errors_for(locked)] * 3)
    outcome = await run.runner.process(ids)
    assert outcome.complete and len(sender.sent) == 3
    assert [(f[0], f[1], f[2], f[3]) for f in outcome.failed] == [
        (ids[0], "File is locked.", 207, 3)
    ]
    assert run.ledger.counts.failed == 1 and run.ledger.counts.deleted == 4


async def test_a_404_resend_and_earlier_ids_end_missing_after_retry() -> None:
    """Ids named missing by a 404 are missing (after retry when they were sent earlier);
    the rest of the batch goes out again in the same call."""
    ids = hex_ids(6)

    def missing(file_ids: list[str]) -> Outcome:
        return Outcome(Kind.MISSING, 404, missing=(ids[0], ids[1]))

    run, sender = make_run([missing])
    outcome = await run.runner.process(ids, earlier=[ids[1]])
    assert outcome.complete
    assert outcome.missing == [ids[0]] and outcome.missing_after_retry == [ids[1]]
    assert sorted(outcome.deleted) == sorted(ids[2:])
    assert sender.sent[1] == ids[2:]


async def test_unless_leaves_a_batch_unsent_when_its_first_turn_comes() -> None:
    """``unless`` asked True at the first turn: nothing is sent, every id is unsettled."""
    ids = hex_ids(4)
    run, sender = make_run([])
    outcome = await run.runner.process(ids, unless=lambda: True)
    assert sender.sent == [] and outcome.unsettled == ids and len(outcome) == 0


async def test_unless_is_not_asked_again_once_the_batch_has_begun() -> None:
    """A batch whose first request has left finishes, 207 re-sends included, whatever
    ``unless`` says afterwards."""
    ids = hex_ids(4)
    asked: list[bool] = []

    def unless() -> bool:
        asked.append(True)
        return len(asked) > 1

    run, sender = make_run([errors_for({ids[0]})])
    outcome = await run.runner.process(ids, unless=unless)
    assert outcome.complete and len(sender.sent) == 2 and asked == [True]


async def test_a_stop_during_the_207_backoff_leaves_those_ids_unsettled() -> None:
    """A run stopped while a 207's ids wait for their re-send: the deleted ids are in the
    outcome, the waiting ones are unsettled (open: not attempted at the run's end)."""
    ids = hex_ids(5)
    slow = RunSettings(backoff_base=30.0, backoff_max=30.0, max_attempts=3)
    run, _ = make_run([errors_for({ids[0]})], slow)

    async def stop_soon() -> None:
        while run.ledger.counts.deleted < 4:
            await asyncio.sleep(0)
        run.stop(Abort(AbortReason.STOPPED, "test"))

    stopper = asyncio.create_task(stop_soon())
    outcome = await asyncio.wait_for(run.runner.process(ids), 10)
    await stopper
    assert sorted(outcome.deleted) == sorted(ids[1:]) and outcome.unsettled == [ids[0]]
    await run.finish()
    assert run.ledger.counts.not_attempted == 1 and run.ledger.counts.failed == 0


async def test_a_request_cut_off_by_a_stop_ends_outcome_unknown() -> None:
    """A call cancelled with its request on the wire leaves the ids open; the run's end
    fails them as outcome unknown (the server may have applied it)."""
    ids = hex_ids(3)
    started = asyncio.Event()

    async def hang(file_ids: list[str]) -> Outcome:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("never answered")

    run, _ = make_run([hang])
    reasons: list[str] = []
    run.ledger.sinks.append(FailureReasons(reasons))
    call = asyncio.create_task(run.runner.process(ids))
    await started.wait()
    call.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await call
    await run.finish()
    counts = run.ledger.counts
    assert counts.failed == 3 and counts.not_attempted == 0
    assert reasons == [INTERRUPTED_UNKNOWN] * 3


class FailureReasons:
    """A ledger sink that keeps the reason of every failure."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        self.reasons.append(error)

    def __getattr__(self, name: str) -> object:
        return lambda *args: None


async def test_a_run_stopped_before_the_first_turn_sends_nothing() -> None:
    """A run stopped before the batch's first turn sends nothing."""
    ids = hex_ids(3)
    run, sender = make_run([])
    run.stop(Abort(AbortReason.STOPPED, "test"))
    outcome = await run.runner.process(ids)
    assert sender.sent == [] and outcome.unsettled == ids
