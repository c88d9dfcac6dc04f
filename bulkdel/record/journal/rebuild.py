"""``bulkdel report --journal PATH``: the report of a whole job, from its journal alone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...models import INTERRUPTED_UNKNOWN, Abort, AbortReason
from ..ledger import Ledger
from ..report import Report, ReportWriter, Resumed
from ..verdict import is_complete
from .journal import DELETED, FAILED, IN_FLIGHT, MISSING, owns_report_dir, read_journal


def report_from_journal(
    journal_path: str | os.PathLike[str], report_dir: str | os.PathLike[str]
) -> Report:
    """Rebuild every report file from the journal: ids left in flight (a request may have
    deleted them) are failed with the run's "outcome unknown" (``INTERRUPTED_UNKNOWN``), ids
    never sent are not attempted.

    ``report_dir`` must be new or empty, or hold an earlier report of this journal's job
    (its runs' report directory, or an earlier rebuild), which is replaced.

    Raises:
        UsageError: no journal at that path, or not a bulkdel journal; a ``report_dir``
            that holds another report.
    """
    reuse = owns_report_dir(journal_path, report_dir)
    writer = ReportWriter(report_dir, fresh=not reuse)
    ledger = Ledger([writer])
    meta: dict[str, str] = {}
    in_flight = 0
    try:
        for kind, row in read_journal(journal_path):
            if kind == "meta":
                meta = row
            elif kind == "invalid":
                ledger.invalid(*row)
            elif kind == "duplicate":
                source, line, file_id = row
                ledger.duplicate(file_id, source, line)
            else:
                in_flight += _replay(ledger, row)
    except BaseException:
        writer.close()
        raise
    counts = ledger.counts
    input_done = meta.get("input_done") == "True"
    report = Report(
        counts=counts,
        requests=ledger.requests,
        complete=is_complete(counts, input_done, _abort(meta)),
        abort=_abort(meta),
        elapsed_s=0.0,
        report_dir=Path(report_dir),
        resumed=Resumed(
            journal=str(journal_path),
            runs=int(meta.get("runs", "0")),
            in_flight_unknown=in_flight,
        ),
    )
    writer.close(report.summary())
    return report


def _replay(ledger: Ledger, row: tuple[Any, ...]) -> bool:
    """Hand one id's journal row to the ledger; True when it was left in flight."""
    file_id, state, error, status, attempts, after_retry = row
    ledger.unique()
    if state == DELETED:
        ledger.deleted((file_id,))
    elif state == MISSING:
        ledger.missing((file_id,), (file_id,) if after_retry else ())
    elif state == FAILED:
        ledger.failed(file_id, error or "", status, attempts)
    elif state == IN_FLIGHT:
        # a request may have deleted it: the label the run itself gives such ids
        ledger.failed(file_id, INTERRUPTED_UNKNOWN, None, attempts)
        return True
    else:
        ledger.not_attempted((file_id,))
    return False


def _abort(meta: dict[str, str]) -> Abort | None:
    """The typed reason the journal recorded (a journal written before reasons were typed
    keeps only the text: it comes back as an unexpected error with that text)."""
    reason = meta.get("abort_reason")
    if reason:
        return Abort(AbortReason(reason), meta.get("abort_detail", ""))
    text = meta.get("aborted")
    return Abort(AbortReason.ERROR, text) if text else None
