"""What a run amounted to, from its counts: the one rule for ``complete``, and the aborts a
run that ran through can still earn (nothing answered; nothing valid read).

Kept apart from the report writer so that a run (``deleter``), a report rebuilt from a
journal (``record.journal.rebuild``) and a job (``jobs.report``) share one rule.
"""

from __future__ import annotations

import asyncio

from ..models import Abort, AbortReason
from .ledger import Counts, RequestStats

__all__ = ["failure_abort", "is_complete", "outcome_abort"]


def is_complete(counts: Counts, input_done: bool, abort: Abort | None) -> bool:
    """The one rule for ``complete`` (docs/contract.md, "The report"): the whole input was
    read, every unique id is deleted, missing or failed (none not attempted or pending) and
    nothing aborted the run."""
    return input_done and abort is None and counts.not_attempted == 0 and counts.balanced()


def outcome_abort(counts: Counts, requests: RequestStats, input_done: bool) -> Abort | None:
    """Why a run that ran through still did not do what it was asked, or None.

    Unreachable: delete requests were sent and not one got an answer but an error (none
    connected; or each timed out or got a 5xx); the counts alone would read as complete.
    No valid id: the whole input was read and every line of it was invalid.
    """
    answers = requests.by_status
    if requests.sent and answers and all(s == "error" or s.startswith("5") for s in answers):
        if requests.never_connected:
            cause = f"none of {requests.sent:,} delete requests connected"
            cause += f" ({requests.connect_error})" if requests.connect_error else ""
        else:
            statuses = ", ".join(sorted(requests.by_status))
            cause = f"none of {requests.sent:,} delete requests got an answer ({statuses})"
        return Abort(AbortReason.UNREACHABLE, cause)
    if input_done and counts.read and not counts.unique:
        return Abort(AbortReason.NO_VALID_ID, f"none of the {counts.read:,} ids read is valid")
    return None


def failure_abort(failure: BaseException | None, input_done: bool) -> Abort | None:
    """Why a run the pipeline did not stop ended early: cancelled, an unexpected error, or
    (input not all read) cancelled too; None when it ran through."""
    if isinstance(failure, asyncio.CancelledError):
        return Abort(AbortReason.CANCELLED)
    if failure is not None:
        # "error: " and this detail stay within 300 characters
        return Abort(AbortReason.ERROR, f"{type(failure).__name__}: {failure}"[:293])
    if not input_done:
        return Abort(AbortReason.CANCELLED)
    return None
