"""The library API: ``await delete_files(ids, ...)`` and ``BulkDeleter`` for more control."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from ..budget import AccountBudget, LocalBudget, budget_for
from ..core.clock import LOOP_CLOCK, Clock
from ..engine.pipeline import Pipeline
from ..engine.runner import BatchSender
from ..engine.sources import FileReader, expected_ids, files_chunks, iterable_chunks
from ..engine.validate import refuse_text
from ..errors import UsageError
from ..imagekit import DEFAULT_BASE_URL, DeleteClient
from ..models import MAX_BATCH, Abort, AbortReason, Chunk, Settings
from ..record.audit import Audit, key_fingerprint, library_call, redact
from ..record.journal.journal import Journal, fingerprint, owns_report_dir
from ..record.ledger import Counts, Ledger, LedgerSink
from ..record.manifest import Manifest, recorded
from ..record.report import Report, ReportWriter, Resumed, check_report_dir
from ..record.verdict import failure_abort, is_complete, outcome_abort
from ..record.writer import reserve_for
from ..telemetry.observer import RunObserver
from ..telemetry.setup import run_observer
from .callbacks import GuardedObserver, GuardedSink, checked_sinks
from .records import close_records, with_records

if TYPE_CHECKING:
    # opentelemetry is an extra (``bulkdel[otel]``): its types for type checkers only
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ..listing.pager import Listing  # only a run with a selection lists

IdSource = Iterable[Any] | AsyncIterable[Any]


class BulkDeleter:
    """One delete run, with a handle to watch and stop it.

    Args:
        private_key: the ImageKit private key (kept only inside the client's auth header).
        settings: the run's knobs; ``Settings()`` by default.
        session: a caller's ``aiohttp.ClientSession`` to send through (left open).
        report_dir: write the report files here; None writes none.
        sinks: extra receivers of every ledger event (progress, your own bookkeeping).
        journal: a journal file: a run again with it resumes, settled ids not sent again.
        sender: send batches through this instead of a ``DeleteClient`` (tests).
        clock: the run's time and sleep (tests drive a virtual one).
        rng: where the backoff's jitter comes from (seed it to replay a run).
        manifest: with a ``report_dir``, write ``manifest.jsonl``: every file record read
            (a listing's, a JSONL input's), durable before any request that deletes it.
        invocation: the command line that asked for the run, for ``summary.json``'s audit
            (secrets are removed); None: the library call is recorded.
        budget: the account's request budget. By default every run of this process with
            the same base URL and key shares one (``bulkdel.budget.budget_for``), so runs
            split the account's rate limit instead of fighting over it; pass a
            ``LocalBudget(rate=R)`` to pace the account at R for all its runs.
            ``settings.rate`` caps this run's share of it.
        observers: follow the run (``bulkdel.telemetry.RunEvents`` for progress events and
            batch outcomes, your own ``RunObserver``).
        meter_provider, tracer_provider: OpenTelemetry's (``bulkdel[otel]``): the run's
            metrics and spans (``bulkdel.telemetry.otel`` lists them). By default the global
            ones if the application has imported opentelemetry, else none (bulkdel never
            imports it on its own).

    Call ``await deleter.run(ids)`` once. ``deleter.stop()`` (from any task) stops taking
    new batches, lets in-flight requests settle and makes ``run`` return an accounted
    report; cancelling ``run`` stops at once and still accounts every id.
    """

    def __init__(
        self,
        private_key: str | None = None,
        *,
        settings: Settings | None = None,
        session: aiohttp.ClientSession | None = None,
        report_dir: str | os.PathLike[str] | None = None,
        sinks: Sequence[LedgerSink] = (),
        sender: BatchSender | None = None,
        journal: str | os.PathLike[str] | None = None,
        clock: Clock = LOOP_CLOCK,
        rng: random.Random | None = None,
        budget: AccountBudget | None = None,
        manifest: bool = True,
        invocation: Sequence[str] | None = None,
        observers: Sequence[RunObserver] = (),
        meter_provider: MeterProvider | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.write_manifest = manifest
        #: the audit's account and command: the key's fingerprint, never the key
        self._account = key_fingerprint(private_key)
        self._call = (
            redact(invocation, [private_key]) if invocation else library_call(self.settings)
        )
        #: what follows the run (the caller's observers, guarded: ``bulkdel.delete.callbacks``)
        self.observer = _observer(observers, meter_provider, tracer_provider)
        self._clock = clock
        self._rng = rng
        self._sender = sender
        if sender is None and not self.settings.dry_run:
            # Built now so that a bad key or base URL fails before anything is read.
            self._sender = DeleteClient.for_settings(
                private_key or "", self.settings, session=session
            )
        if budget is None and sender is None and not self.settings.dry_run:
            budget = budget_for(self.settings.base_url, private_key or "")
        #: the account's budget (None: a run with an injected sender gets one of its own)
        self.budget = budget
        self.report_dir = report_dir
        self.journal_path = None if journal is None or self.settings.dry_run else Path(journal)
        self._extra_sinks = checked_sinks(sinks)
        self.ledger = Ledger()
        self.pipeline: Pipeline | None = None
        #: the report of the last run, also set when ``run`` was cancelled
        self.last_report: Report | None = None
        self._stop_reason: Abort | None = None

    def __repr__(self) -> str:
        return f"BulkDeleter(base_url={self.settings.base_url!r}, private_key=***)"

    @property
    def counts(self) -> Counts:
        """Live counts of the run."""
        return self.ledger.counts

    def stop(self, reason: Abort | None = None) -> None:
        """Stop gracefully: no new batches, in-flight requests settle, ``run`` returns.

        Args:
            reason: why (the report's ``abort``); ``Abort(AbortReason.STOPPED)`` by default.
        """
        self._stop_reason = reason or Abort(AbortReason.STOPPED)
        if self.pipeline is not None:
            self.pipeline.stop(self._stop_reason)

    async def run(
        self,
        ids: IdSource | None = None,
        *,
        files: Sequence[FileReader] = (),
        listing: Listing | None = None,
    ) -> Report:
        """Delete ``ids`` (any iterable or async iterable of str), opened ``files`` and/or
        the files a ``listing`` selects (listed while deleting, with turns from the same
        budget; the listing's client is closed at the end).

        Raises:
            UsageError: ``ids`` is one str or bytes (pass a list of ids).
        """
        refuse_text(ids, "ids")
        audit = Audit(self._call, self.settings.base_url, self._account)
        journal, writer = await self._open_records(files, listing)
        manifest = self._open_manifest(journal, listing)
        own: list[LedgerSink] = [s for s in (writer, journal, manifest) if s is not None]
        # bulkdel's records first: an outcome is on record before a caller's sink sees it
        theirs = [GuardedSink(s, self._callback_failed) for s in self._extra_sinks]
        self.ledger.sinks = [*own, *theirs]
        pipeline = self.pipeline = self._pipeline(journal, expected_ids(files, ids))
        if self._stop_reason is not None:
            pipeline.stop(self._stop_reason)
        # The listing pages under the pipeline's lease and stop (one limit; a 429 holds both).
        chunks = _chunks(ids, files, listing.chunks(pipeline) if listing else None)
        if manifest is not None:
            chunks = recorded(chunks, manifest, writer.disk_full if writer else None)
        started = self._clock.time()
        failure: BaseException | None = None
        try:
            await pipeline.run(chunks)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            if isinstance(self._sender, DeleteClient):
                await self._sender.close()
            if listing is not None:
                await listing.close()
            elapsed = self._clock.time() - started
            report = with_records(
                self._report(pipeline, failure, elapsed, writer, journal), listing, manifest, audit
            )
            self.last_report = report
            await close_records(report, pipeline, writer, journal)
        if pipeline.callback_error is not None:
            raise _noted(pipeline.callback_error, writer)
        return report

    def _callback_failed(self, error: BaseException, where: str) -> None:
        if self.pipeline is not None:  # sinks hear nothing before the pipeline exists
            self.pipeline.callback_failed(error, where)

    def _pipeline(self, journal: Journal | None, expected_ids: int | None = None) -> Pipeline:
        return Pipeline(
            self._sender or _NoSender(),
            self.settings,
            self.ledger,
            clock=self._clock,
            journal=journal,
            rng=self._rng,
            expected_ids=expected_ids,
            # a run with an injected sender and no budget gets one of its own
            budget=self.budget if self.budget is not None else LocalBudget(clock=self._clock),
            # spilled ids go beside the journal or the report, not to a /tmp that may be RAM
            spill_dir=self.journal_path.parent if self.journal_path else self.report_dir,
            observer=self.observer,
        )

    async def _open_records(
        self, files: Sequence[FileReader], listing: Listing | None
    ) -> tuple[Journal | None, ReportWriter | None]:
        """The journal and the report writer. A report directory holds one run: it must be
        new or empty, unless this job's journal wrote it (a resumed run replaces its own
        report); and no input may be one of its files (it would be emptied before it is
        read). Checked before the journal counts a run."""
        if self.report_dir is None:
            return self._open_journal(files, listing), None
        reuse = owns_report_dir(self.journal_path, self.report_dir)
        check_report_dir(self.report_dir, reuse=reuse, inputs=[r.name for r in files])
        journal = self._open_journal(files, listing)
        try:
            # A run that sends keeps room to record what is in flight when the disk fills.
            s = self.settings
            reserve = 0 if s.dry_run else reserve_for(s.concurrency, s.batch_size)
            writer = ReportWriter(
                self.report_dir, fresh=not reuse, reserve=reserve, on_full=self.stop
            )
            return journal, writer
        except BaseException:
            if journal is not None:
                await journal.close()
            raise

    def _open_manifest(self, journal: Journal | None, listing: Listing | None) -> Manifest | None:
        if self.report_dir is None or not self.write_manifest:
            return None
        # a resumed run's manifest already names what its earlier runs deleted
        manifest = Manifest(self.report_dir, append=journal is not None and journal.resumed)
        if listing is not None:
            manifest.open()
        return manifest

    def _open_journal(self, files: Sequence[FileReader], listing: Listing | None) -> Journal | None:
        if self.journal_path is None:
            return None
        names = [r.name for r in files] or ([listing.name] if listing else ["<iterable>"])
        job = fingerprint(names, self.settings.base_url)
        return Journal.open(self.journal_path, job, report_dir=self.report_dir)

    def _report(
        self,
        pipeline: Pipeline,
        failure: BaseException | None,
        elapsed: float,
        writer: ReportWriter | None,
        journal: Journal | None,
    ) -> Report:
        """The run's report, the one place it is built."""
        counts = self.ledger.counts
        if isinstance(self._sender, DeleteClient):
            # A run none of whose requests connected must not read as complete.
            self.ledger.requests.connect_failures = self._sender.connect_failures
            self.ledger.requests.connect_error = self._sender.last_connect_failure
        abort = (
            pipeline.aborted
            or failure_abort(failure, pipeline.input_done)
            or outcome_abort(counts, self.ledger.requests, pipeline.input_done)
        )
        resumed = None
        if journal is not None:
            resumed = Resumed(
                journal=str(journal.path),
                resumed=journal.resumed,
                settled_earlier=pipeline.reader.resumed_final,
                in_flight_earlier=pipeline.reader.resumed_in_flight,
            )
        return Report(
            counts=counts,
            requests=self.ledger.requests,
            complete=is_complete(counts, pipeline.input_done, abort),
            abort=abort,
            elapsed_s=elapsed,
            report_dir=writer.directory if writer else None,
            dry_run=self.settings.dry_run,
            resumed=resumed,
        )


def _observer(
    observers: Sequence[RunObserver],
    meter: MeterProvider | None,
    tracer: TracerProvider | None,
) -> RunObserver:
    guarded = [GuardedObserver(o) for o in observers]
    return run_observer(guarded, meter_provider=meter, tracer_provider=tracer)


def _noted(error: BaseException, writer: ReportWriter | None) -> BaseException:
    """A caller's callback error, with where the stopped run's report is."""
    where = "" if writer is None else f" and {writer.directory}"
    error.add_note(f"bulkdel stopped the run; its report: BulkDeleter.last_report{where}")
    return error


class _NoSender:
    """The sender of a dry run: never called, because a dry run starts no workers."""

    async def delete_batch(self, file_ids: list[str]) -> Any:
        raise AssertionError("a dry run sends nothing")


async def _chunks(
    ids: IdSource | None,
    files: Sequence[FileReader],
    listed: AsyncIterable[Chunk] | None = None,
) -> AsyncIterable[Chunk]:
    if ids is not None:
        async for chunk in iterable_chunks(ids):
            yield chunk
    if files:
        async for chunk in files_chunks(list(files)):
            yield chunk
    if listed is not None:
        async for chunk in listed:
            yield chunk


async def delete_files(
    ids: IdSource | None = None,
    *,
    listing: Listing | None = None,
    private_key: str,
    base_url: str = DEFAULT_BASE_URL,
    rate: float | None = None,
    concurrency: int = 8,
    batch_size: int = MAX_BATCH,
    max_attempts: int = 6,
    timeout: float = 30.0,  # noqa: ASYNC109 - per request, not for the whole call
    report_dir: str | os.PathLike[str] | None = None,
    session: aiohttp.ClientSession | None = None,
    dry_run: bool = False,
    max_delete: int | None = None,
    sinks: Sequence[LedgerSink] = (),
    budget: AccountBudget | None = None,
    observers: Sequence[RunObserver] = (),
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
) -> Report:
    """Delete every id in ``ids`` and/or every file ``listing`` selects from ImageKit, and
    return the accounted report.

    Calls running at once in one process with the same base URL and key share the account's
    budget (fair halves for two); ``rate`` caps this call's share, ``budget`` gives another
    (``LocalBudget(rate=R)`` paces the account at R for every call that holds it).
    ``observers``, ``meter_provider`` and ``tracer_provider`` follow the run (``BulkDeleter``).

    Never raises for API trouble: failures are in the report. Raises ``UsageError`` for a bad
    key, base URL or setting, neither ids nor a listing, or ids given as one str (pass a
    list: a str would be iterated character by character), before anything is sent.
    """
    if ids is None and listing is None:
        raise UsageError("delete_files needs ids or a listing")
    refuse_text(ids, "ids")
    settings = Settings(
        base_url=base_url,
        rate=rate,
        concurrency=concurrency,
        batch_size=batch_size,
        max_attempts=max_attempts,
        timeout=timeout,
        dry_run=dry_run,
        max_delete=max_delete,
    )
    given = locals()  # the arguments passed through to BulkDeleter as they are
    options = {name: given[name] for name in _PASSED_ON}
    return await BulkDeleter(private_key, settings=settings, **options).run(ids, listing=listing)


#: ``delete_files``' arguments that ``BulkDeleter`` takes as they are
_PASSED_ON = (
    "session",
    "report_dir",
    "sinks",
    "budget",
    "observers",
    "meter_provider",
    "tracer_provider",
)
