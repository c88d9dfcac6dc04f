"""A run told to ``logging``, with structured ``extra`` fields (the library prints nothing).

Logger ``bulkdel.run``: the run's start and end at INFO, each batch at DEBUG. Every record
carries ``bulkdel_event`` (``run_started``, ``batch``, ``run_finished``) and the figures as
fields of their own (``bulkdel_counts``, ``bulkdel_batch``...), for a JSON formatter to emit
as they are. A run adds this observer by itself when that logger is enabled for INFO, so an
application that does not configure logging pays nothing.
"""

from __future__ import annotations

import logging
from dataclasses import fields

from .observer import BatchTally, RunObserver, RunView
from .stats import pace_of

LOG = logging.getLogger("bulkdel.run")
#: a batch's figures as logged (not the observers' handles: a span is no log field)
_BATCH_FIELDS = tuple(f.name for f in fields(BatchTally) if f.name != "handle")


class LogObserver(RunObserver):
    """Logs a run's start, batches and end.

    Args:
        logger: where to (``bulkdel.run`` by default).
    """

    def __init__(self, logger: logging.Logger = LOG) -> None:
        self.logger = logger

    def run_started(self, run: RunView) -> None:
        settings = run.settings
        self.logger.info(
            "run started: %s, %d in flight, %d ids a batch",
            settings.base_url,
            settings.concurrency,
            settings.batch_size,
            extra={
                "bulkdel_event": "run_started",
                "bulkdel_base_url": settings.base_url,
                "bulkdel_dry_run": settings.dry_run,
            },
        )

    def batch_finished(self, run: RunView, batch: BatchTally) -> None:
        logger = self.logger
        if logger.isEnabledFor(logging.DEBUG):
            fields = {name: getattr(batch, name) for name in _BATCH_FIELDS}
            logger.debug(
                "batch %d: %d deleted, %d missing, %d failed, %d later (%d requests)",
                batch.number,
                batch.deleted,
                batch.missing,
                batch.failed,
                batch.later,
                batch.requests,
                extra={"bulkdel_event": "batch", "bulkdel_batch": fields},
            )

    def run_finished(self, run: RunView) -> None:
        counts = run.ledger.counts
        aborted = getattr(run, "aborted", None)
        self.logger.info(
            "run finished: %d deleted, %d missing, %d failed, %d not attempted%s",
            counts.deleted,
            counts.missing,
            counts.failed,
            counts.not_attempted,
            f" ({aborted})" if aborted is not None else "",
            extra={
                "bulkdel_event": "run_finished",
                "bulkdel_counts": counts.as_dict(),
                "bulkdel_requests": run.ledger.requests.as_dict(),
                "bulkdel_aborted": None if aborted is None else str(aborted),
                "bulkdel_pace": pace_of(run),
            },
        )
