"""``OpenIds`` alone: where each open id stands, and the bucket each move puts it in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bulkdel.engine.open_ids import OpenIds
from bulkdel.models import INTERRUPTED_UNKNOWN, UNKNOWN_PREFIX, Kind, Outcome
from bulkdel.record.ledger import Ledger


class Recorded:
    """A ledger sink that keeps each final bucket's ids (and each failure's record)."""

    def __init__(self) -> None:
        self.deleted_ids: list[str] = []
        self.missing_ids: list[tuple[str, bool]] = []
        self.failures: list[tuple[str, str, int | None, int]] = []
        self.not_attempted_ids: list[str] = []

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        raise AssertionError("OpenIds never sees an invalid id")

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        raise AssertionError("OpenIds never sees a duplicate")

    def deleted(self, file_ids: Sequence[str]) -> None:
        self.deleted_ids += file_ids

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        self.missing_ids += [(i, i in after_retry) for i in file_ids]

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        self.failures.append((file_id, error, status, attempts))

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        self.not_attempted_ids += sorted(file_ids)


class Journal:
    """What the journal is told: the ids kept in flight."""

    def __init__(self) -> None:
        self.kept: set[str] = set()

    def keep_in_flight(self, file_ids: set[str]) -> None:
        self.kept |= file_ids


def opened(*file_ids: str) -> tuple[OpenIds, Recorded, Journal]:
    sink, journal = Recorded(), Journal()
    ids = OpenIds(Ledger([sink]), journal)  # type: ignore[arg-type]
    ids.open.update(file_ids)
    return ids, sink, journal


def test_charged_attempts_are_counted_per_id_and_forgotten_on_close() -> None:
    """``used`` is the most attempts of a batch's ids; a closed id keeps none."""
    ids, _, _ = opened("a", "b")
    assert ids.used(["a", "b"]) == 0
    ids.charge(["a", "b"], 1)
    ids.charge(["b"], 2)
    ids.charge(["a"], 0)
    assert (ids.used(["a"]), ids.used(["a", "b"])) == (1, 3)
    ids.close(["b"])
    assert (ids.open, ids.attempts, ids.used(["b"])) == ({"a"}, {"a": 1}, 0)


def test_each_move_puts_ids_in_its_bucket_and_closes_them() -> None:
    """deleted, missing (after retry only when an attempt may have deleted it), not
    attempted and failed each reach the ledger once, and leave the open set."""
    ids, sink, _ = opened("d", "m", "r", "n", "f")
    ids.ambiguous.add("r")
    ids.charge(["f"], 2)
    ids.deleted(["d"])
    assert ids.missing(["m", "r"]) == ["r"]
    ids.not_attempted(["n"])
    failures = ids.fail(["f"], Outcome(Kind.FATAL, 403, message="forbidden"))
    assert failures == [("f", "forbidden", 403, 2)]
    assert (sink.deleted_ids, sink.missing_ids, sink.not_attempted_ids) == (
        ["d"],
        [("m", False), ("r", True)],
        ["n"],
    )
    assert sink.failures == failures
    assert (ids.open, ids.ambiguous, ids.attempts) == (set(), set(), {})


def test_a_failure_that_may_have_deleted_says_outcome_unknown() -> None:
    """When an attempt may have deleted one id of the batch, the failure says so."""
    ids, sink, _ = opened("a", "b")
    ids.ambiguous.add("a")
    ids.fail(["a", "b"], Outcome(Kind.TRANSIENT, 503, message="unavailable"))
    assert [message for _, message, _, _ in sink.failures] == [UNKNOWN_PREFIX + "unavailable"] * 2


def test_leftovers_sent_or_ambiguous_fail_unknown_and_stay_in_flight() -> None:
    """At the end, ids never sent are not attempted; ids on the wire (charged the attempt
    cut off) or maybe deleted fail as outcome unknown and the journal keeps them in flight."""
    ids, sink, journal = opened("idle", "wire", "maybe")
    ids.on_wire(["wire"])
    ids.ambiguous.add("maybe")
    ids.charge(["maybe"], 1)
    ids.settle_leftovers()
    assert sink.not_attempted_ids == ["idle"]
    assert sink.failures == [
        ("maybe", INTERRUPTED_UNKNOWN, None, 1),
        ("wire", INTERRUPTED_UNKNOWN, None, 1),
    ]
    assert journal.kept == {"wire", "maybe"}
    assert (ids.open, ids.sending, ids.ambiguous, ids.attempts) == (set(), set(), set(), {})


def test_a_batchs_leftovers_leave_the_other_ids_open() -> None:
    """Given a batch's ids, only those are settled; the rest of the run stays as it was."""
    ids, sink, _ = opened("a", "b", "other")
    ids.on_wire(["b", "other"])
    ids.settle_leftovers(["a", "b"])
    assert sink.not_attempted_ids == ["a"]
    assert [file_id for file_id, *_ in sink.failures] == ["b"]
    assert (ids.open, ids.sending) == ({"other"}, {"other"})


def test_a_request_leaves_the_wire_with_its_answer_even_after_a_settle() -> None:
    """Each request is on the wire under its own token until its answer; one answered after
    the run settled finds nothing left to take off."""
    ids, _, _ = opened("a", "b")
    first, second = ids.on_wire(["a"]), ids.on_wire(["a", "b"])
    ids.off_wire(first)
    assert ids.sending == {"a", "b"}
    ids.settle_leftovers()
    ids.off_wire(second)
    assert (ids.sending, ids.wire) == (set(), {})
