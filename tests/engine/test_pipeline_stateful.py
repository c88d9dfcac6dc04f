"""The pipeline against an in-memory sender that answers with arbitrary outcome sequences.

Hypothesis chooses every answer as the requests come (truthful deletes, 207 errors, 404s,
5xx before or after applying, refused connections, timeouts, 429s, 400s, a fatal answer);
a ledger sink and the sender check the equalities at every step, and the end state is
checked against the in-memory server's ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bulkdel import BulkDeleter, delete_files
from bulkdel.engine.validate import is_valid_id
from bulkdel.models import Abort, AbortReason, FileError, Kind, Outcome, Settings

POOL = [f"{n:024x}" for n in range(40)] + ["Ab_-9", "x" * 64]
ANSWERS = (
    "truth",
    "truth",
    "truth",
    "flaky_207",
    "5xx",
    "5xx_applied",
    "timeout_applied",
    "refused",
    "429",
    "429_no_wait",
    "400",
    "html_200",
)


class Steps:
    """Checks the equalities on every ledger event (it is a ledger sink)."""

    def __init__(self) -> None:
        self.deleter: BulkDeleter | None = None
        self.bucket: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.after_retry: set[str] = set()
        self.steps = 0

    def check(self, closing: bool = False) -> None:
        """Both equalities hold now; pending is exactly the ids still open.

        ``closing``: the end-of-run ``not_attempted`` event, sent while the pipeline still
        holds those ids as open (it clears them right after).
        """
        assert self.deleter is not None
        self.steps += 1
        c = self.deleter.ledger.counts
        assert c.read == c.invalid + c.duplicate + c.unique, c
        pipeline = self.deleter.pipeline
        if pipeline is not None and not closing:
            # unique = deleted + missing + failed + not_attempted + open
            assert c.pending == len(pipeline.ids.open), (c, len(pipeline.ids.open))
        assert c.pending >= 0
        assert c.missing_after_retry <= c.missing

    def _settle(self, ids: Iterable[str], bucket: str) -> None:
        for file_id in ids:
            assert file_id not in self.bucket, (file_id, self.bucket[file_id], bucket)
            self.bucket[file_id] = bucket

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        assert reason
        self.check()

    def duplicate(self, file_id: str, *where: Any) -> None:
        self.check()

    def deleted(self, file_ids: Sequence[str]) -> None:
        self._settle(file_ids, "deleted")
        self.check()

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        assert set(after_retry) <= set(file_ids)
        self.after_retry.update(after_retry)
        self._settle(file_ids, "missing")
        self.check()

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        assert attempts >= 0
        self.failures[file_id] = error
        self._settle([file_id], "failed")
        self.check()

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        self._settle(file_ids, "not_attempted")
        self.check(closing=True)


class ScriptedServer:
    """An in-memory ImageKit whose every answer hypothesis picks; keeps the ground truth."""

    def __init__(
        self,
        data: st.DataObject,
        existing: set[str],
        locked: set[str],
        steps: Steps,
        batch_size: int,
        allow_fatal: bool,
    ) -> None:
        self.data = data
        self.existing = set(existing)
        self.locked = locked
        self.deleted: set[str] = set()
        self.steps = steps
        self.batch_size = batch_size
        self.answers = (*ANSWERS, "fatal") if allow_fatal else ANSWERS
        self.in_flight: set[str] = set()
        self.requests = 0
        #: ids of requests that were applied but not answered as such
        self.applied_unanswered: set[str] = set()

    def _apply(self, file_ids: list[str], flaky: set[str]) -> tuple[list[str], list[FileError]]:
        deleted, errors = [], []
        for file_id in file_ids:
            if file_id in self.locked:
                errors.append(FileError(file_id, "File is locked"))
            elif file_id in flaky:
                errors.append(FileError(file_id, "Internal error, please retry."))
            else:
                deleted.append(file_id)
        self.existing.difference_update(deleted)
        self.deleted.update(deleted)
        return deleted, errors

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        """Answer one request as hypothesis says, truthfully about what was applied."""
        self.steps.check()
        self.requests += 1
        assert self.requests < 5000, "the pipeline does not converge"
        assert 1 <= len(file_ids) <= self.batch_size
        assert len(set(file_ids)) == len(file_ids), file_ids
        assert all(map(is_valid_id, file_ids)), file_ids
        # No id is in two requests at once (it could be deleted twice, or counted twice).
        assert self.in_flight.isdisjoint(file_ids)
        self.in_flight.update(file_ids)
        try:
            await asyncio.sleep(0)
            return self._answer(file_ids)
        finally:
            self.in_flight.difference_update(file_ids)

    def _answer(self, file_ids: list[str]) -> Outcome:
        answer = self.data.draw(st.sampled_from(self.answers))
        missing = tuple(i for i in file_ids if i not in self.existing)
        if answer in ("truth", "flaky_207", "5xx_applied", "timeout_applied") and missing:
            return Outcome(Kind.MISSING, 404, missing=missing, message="not found")
        if answer in ("truth", "flaky_207"):
            flaky = (
                set(self.data.draw(st.lists(st.sampled_from(file_ids), max_size=3)))
                if answer == "flaky_207"
                else set()
            )
            deleted, errors = self._apply(file_ids, flaky)
            status = 207 if errors else 200
            return Outcome(Kind.SUCCESS, status, deleted=tuple(deleted), errors=tuple(errors))
        if answer == "5xx":
            return Outcome(Kind.TRANSIENT, 503, message="unavailable", maybe_applied=True)
        if answer == "5xx_applied":
            self.applied_unanswered.update(self._apply(file_ids, set())[0])
            return Outcome(Kind.TRANSIENT, 502, message="bad gateway", maybe_applied=True)
        if answer == "timeout_applied":
            self.applied_unanswered.update(self._apply(file_ids, set())[0])
            return Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
        if answer == "refused":
            return Outcome(Kind.TRANSIENT, None, message="cannot connect")
        if answer == "429":
            return Outcome(Kind.THROTTLED, 429, message="slow down", retry_after=0.001)
        if answer == "429_no_wait":
            return Outcome(Kind.THROTTLED, 429, message="slow down")
        if answer == "400":
            return Outcome(Kind.BAD_REQUEST, 400, message="bad id")
        if answer == "html_200":
            return Outcome(Kind.TRANSIENT, 200, message="unreadable 200", maybe_applied=True)
        assert answer == "fatal"
        return Outcome(Kind.FATAL, 403, message="forbidden")


inputs = st.lists(
    st.one_of(st.sampled_from(POOL), st.sampled_from(["", "bad id", "é", "a/b"]), st.integers()),
    max_size=120,
)


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ids=inputs,
    existing_mask=st.lists(st.booleans(), min_size=len(POOL), max_size=len(POOL)),
    locked_mask=st.lists(st.booleans(), min_size=len(POOL), max_size=len(POOL)),
    batch_size=st.integers(1, 12),
    concurrency=st.integers(1, 4),
    max_attempts=st.integers(1, 4),
    allow_fatal=st.booleans(),
    data=st.data(),
)
def test_pipeline_accounts_for_every_id_under_any_answers(
    ids: list[Any],
    existing_mask: list[bool],
    locked_mask: list[bool],
    batch_size: int,
    concurrency: int,
    max_attempts: int,
    allow_fatal: bool,
    data: st.DataObject,
) -> None:
    """Equalities after every step and at the end; the report agrees with the ground truth."""
    existing = {i for i, keep in zip(POOL, existing_mask, strict=True) if keep}
    locked = {i for i, lock in zip(POOL, locked_mask, strict=True) if lock and i in existing}
    steps = Steps()
    server = ScriptedServer(data, existing, locked, steps, batch_size, allow_fatal)
    config = Settings(
        base_url="http://127.0.0.1:1",
        batch_size=batch_size,
        concurrency=concurrency,
        max_attempts=max_attempts,
        rate=100_000.0,
        backoff_base=0.0001,
        backoff_max=0.001,
        linger=0.001,
    )

    async def run() -> Any:
        deleter = BulkDeleter(settings=config, sender=server, sinks=[steps])
        steps.deleter = deleter
        return await asyncio.wait_for(deleter.run(ids), timeout=60)

    report = asyncio.run(run())
    c = report.counts
    assert c.balanced(), c
    assert c.read == len(ids)
    unique_valid = {i for i in ids if isinstance(i, str) and is_valid_id(i)}
    assert c.unique == len(unique_valid)
    assert set(steps.bucket) == unique_valid
    reason = report.abort.reason if report.abort is not None else None
    fatal = reason is AbortReason.FATAL
    # Besides a fatal answer, a run ends aborted only when no request got a useful answer
    # or no valid id was read (the counts alone would read as complete).
    assert reason in (None, AbortReason.FATAL, AbortReason.UNREACHABLE, AbortReason.NO_VALID_ID)
    assert (reason is AbortReason.NO_VALID_ID) == (c.read > 0 and c.unique == 0)
    if reason is AbortReason.UNREACHABLE:
        assert all(s == "error" or s.startswith("5") for s in report.requests.by_status)
    if not fatal:
        assert c.not_attempted == 0 and report.complete == (reason is None)
    reported = {b: {i for i, x in steps.bucket.items() if x == b} for b in ("deleted", "missing")}
    # Nothing reported deleted that the server did not delete.
    assert reported["deleted"] <= server.deleted
    # Nothing deleted that is not reported deleted or missing, or failed as "outcome unknown".
    unknown = {i for i, e in steps.failures.items() if e.startswith("outcome unknown")}
    stray = server.deleted - reported["deleted"] - reported["missing"] - unknown
    assert not stray, stray
    # Missing means missing: never an id that still exists.
    assert reported["missing"].isdisjoint(server.existing)
    assert steps.after_retry <= reported["missing"]
    # Every existing id deleted unless it failed (or a fatal answer stopped the run).
    for file_id in existing & unique_valid:
        assert file_id in server.deleted or steps.bucket[file_id] in (
            ("failed", "not_attempted") if fatal else ("failed",)
        )
    # Locked ids are never deleted.
    assert locked.isdisjoint(server.deleted)


class ListSender:
    """Answers requests from a fixed list of (outcome, ids to delete on the server)."""

    def __init__(self, answers: list[tuple[Outcome, bool]]) -> None:
        self.answers = answers
        self.deleted: set[str] = set()

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        outcome, applied = self.answers.pop(0)
        if applied:
            self.deleted.update(file_ids)
        return outcome


def after_an_applied_502(then: Outcome) -> tuple[str, ListSender, Steps]:
    """Run one id whose first attempt was applied but answered 502, then answered ``then``."""
    file_id = "0" * 24
    sender = ListSender(
        [
            (Outcome(Kind.TRANSIENT, 502, message="bad gateway", maybe_applied=True), True),
            (then, False),
        ]
    )
    steps = Steps()
    config = Settings(max_attempts=3, backoff_base=0.0001, backoff_max=0.001, linger=0.001)

    async def run() -> Any:
        deleter = BulkDeleter(settings=config, sender=sender, sinks=[steps])
        steps.deleter = deleter
        return await deleter.run([file_id])

    asyncio.run(run())
    return file_id, sender, steps


def test_bad_request_after_ambiguous_attempt_keeps_outcome_unknown() -> None:
    """An id deleted by a 5xx'd attempt, then refused with 400, is not a plain failure."""
    file_id, sender, steps = after_an_applied_502(Outcome(Kind.BAD_REQUEST, 400, message="bad id"))
    assert sender.deleted == {file_id}
    assert steps.bucket[file_id] in ("deleted", "missing") or steps.failures[file_id].startswith(
        "outcome unknown"
    ), steps.failures


class Forbidden:
    """Answers 403 to everything."""

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        await asyncio.sleep(0)
        return Outcome(Kind.FATAL, 403, message="forbidden")


@pytest.mark.parametrize("how", ["complete", "fatal", "stop", "cancel"])
async def test_a_run_leaves_no_tasks_and_no_loop_errors(how: str) -> None:
    """However a run ends, it leaves no task behind and the loop reports no lost exception."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    ids = [f"{n:024x}" for n in range(500)]
    config = Settings(batch_size=10, concurrency=4, linger=0.001)
    sender: Any = Forbidden() if how == "fatal" else SlowSuccess()
    deleter = BulkDeleter(settings=config, sender=sender)
    task = asyncio.create_task(deleter.run(ids))
    await asyncio.sleep(0.01)
    if how == "stop":
        deleter.stop(Abort(AbortReason.STOPPED, "by test"))
    if how == "cancel":
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert deleter.last_report is not None and deleter.last_report.counts.balanced()
    assert errors == []


class SlowSuccess:
    """Deletes everything, slowly enough for a stop or cancel to land mid-run."""

    async def delete_batch(self, file_ids: list[str]) -> Outcome:
        await asyncio.sleep(0.001)
        return Outcome(Kind.SUCCESS, 200, deleted=tuple(file_ids))


@pytest.mark.parametrize("key", ["private_test_key_0123456789", "wrong_key_000000"])
async def test_the_real_client_closes_its_session(fake_server: Any, key: str) -> None:
    """Through the real client, finished or aborted (403): no unclosed session or connector,
    no task left behind."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))
    ids = [f"{n:024x}" for n in range(250)]
    report = await delete_files(ids, private_key=key, base_url=fake_server.url, batch_size=50)
    assert report.counts.balanced()
    gc.collect()
    for _ in range(3):
        await asyncio.sleep(0)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    assert errors == [], [e.get("message") for e in errors]


def test_applied_ids_are_not_not_attempted_after_a_fatal_answer() -> None:
    """A 502 after the delete was applied, then a 403: the id may be gone, so it is failed
    ("outcome unknown") or missing, never "not attempted"."""
    file_id, sender, steps = after_an_applied_502(Outcome(Kind.FATAL, 403, message="forbidden"))
    assert sender.deleted == {file_id}
    assert steps.bucket[file_id] != "not_attempted"
    assert steps.bucket[file_id] == "missing" or steps.failures[file_id].startswith(
        "outcome unknown"
    )
