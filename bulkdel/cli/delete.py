"""``bulkdel delete``: ids from files or stdin, or the files selectors pick."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..budget import AccountBudget
from ..delete.deleter import BulkDeleter
from ..engine.sources import FileReader, open_files
from ..errors import UsageError
from ..imagekit import ListingClient
from ..purge.plan import DeletedIds, PurgePlan, purge_after, refuse_above_limit
from ..record.ledger import LedgerSink
from ..record.report import Report
from .confirm import Declined, confirm, files_target
from .metrics import serving_metrics
from .options import DeleteOptions
from .preflight import check_api
from .progress import ProgressDisplay
from .purge import purge_plan
from .redis_setup import account_budget, check_redis
from .settings import RunOptions, delete_run
from .signals import stop_on_signals
from .words import counted

if TYPE_CHECKING:
    from ..listing.pager import Listing
    from ..telemetry.observer import RunObserver


async def run_delete(options: DeleteOptions) -> Report:
    """Run ``bulkdel delete`` and return its report.

    Raises:
        UsageError: a bad option or source, or no key, or a ``--metrics-port`` that cannot
            be listened on.
        Declined: a terminal user did not confirm; nothing was sent.
        UnreachableError, FatalAPIError: the preflight failed; nothing was read or sent.
    """
    run = delete_run(options, os.environ)
    try:
        plan = purge_plan(options.purge, run.selection, os.environ)
        with serving_metrics(options.metrics) as observers:
            report = await _run_delete(_Delete(options, run, observers), plan)
            for observer in observers:
                observer.purged((report.purge or {}).get("requests", 0))
    except BaseException:
        # A run refused or declined before its report began leaves no empty directory
        # behind (rmdir removes only an empty one).
        if run.made_report_dir and run.report_dir is not None:
            with contextlib.suppress(OSError):
                run.report_dir.rmdir()
        raise
    return report


@dataclass(frozen=True)
class _Delete:
    """One ``delete``: its options, what they resolved to, and the run's observers."""

    options: DeleteOptions
    run: RunOptions
    observers: Sequence[RunObserver]


async def _run_delete(cmd: _Delete, plan: PurgePlan | None) -> Report:
    options, run = cmd.options, cmd.run
    wait = options.redis.wait
    if run.selection is not None:
        await check_api(run.settings, run.private_key, skip=options.no_preflight)
        async with account_budget(run.redis_url, run.settings, run.private_key, wait=wait) as b:
            return await _delete_selected(cmd, b, plan)
    source = options.source
    readers = open_files(list(source.sources) or ["-"], source.format, source.column)
    try:
        # Opened (a bad path or header is a usage error first), no id read yet: a wrong
        # key, base URL or TLS fails here, in one request, before anything is read or sent.
        await check_api(run.settings, run.private_key, skip=options.no_preflight)
        await check_redis(run.redis_url, run.private_key, wait)
        confirm(run.settings, yes=options.yes, target=lambda: files_target(readers))
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    say_stdin(readers)
    async with account_budget(run.redis_url, run.settings, run.private_key, wait=wait) as budget:
        deleter = _deleter(cmd, budget)
        return await run_with_signals(deleter, readers, show_progress=not options.quiet)


def say_stdin(readers: Sequence[FileReader]) -> None:
    """On a terminal stdin, say that ids are read from it and how to end them (a run that
    seems to hang is waiting for input)."""
    if any(r.name == "<stdin>" for r in readers) and sys.stdin is not None and sys.stdin.isatty():
        print("bulkdel: reading ids from stdin; Ctrl-D ends", file=sys.stderr)


def _deleter(
    cmd: _Delete, budget: AccountBudget | None, sinks: Sequence[LedgerSink] = ()
) -> BulkDeleter:
    run = cmd.run
    return BulkDeleter(
        run.private_key if not run.settings.dry_run else None,
        settings=run.settings,
        report_dir=run.report_dir,
        journal=cmd.options.journal,
        budget=budget,
        sinks=sinks,
        invocation=cmd.options.invocation or None,
        observers=cmd.observers,
    )


def listing_for(run: RunOptions) -> Listing:
    """The listing of ``run``'s selection (its client is closed by the listing)."""
    from ..listing.pager import Listing  # only a run with a selection lists

    assert run.selection is not None and run.private_key is not None
    client = ListingClient.for_settings(run.private_key, run.settings)
    return Listing(client, run.selection)


async def _delete_selected(
    cmd: _Delete, budget: AccountBudget | None, plan: PurgePlan | None
) -> Report:
    """Selectors: list and delete at once (the listing is the source; a dry run lists and
    counts files and bytes), then purge the CDN when asked."""
    run, options = cmd.run, cmd.options
    listing = listing_for(run)
    assert run.private_key is not None and run.selection is not None
    resolved = listing.resolved.describe()
    print(f"bulkdel: selecting {resolved}", file=sys.stderr)
    try:
        if plan is not None:
            await refuse_above_limit(plan, listing, run.private_key, run.settings)
        what = f"every file selected by {run.selection.describe()} ({resolved})"
        confirm(run.settings, yes=options.yes, target=lambda: what)
    except (Declined, UsageError):
        await listing.close()
        raise
    deleted = DeletedIds()
    deleter = _deleter(cmd, budget, [deleted] if listing.urls is not None else [])
    report = await run_with_signals(deleter, (), show_progress=not options.quiet, listing=listing)
    print(
        f"bulkdel: listing: {counted(listing.files, 'file')}, "
        f"{counted(listing.bytes, 'byte')} in {counted(listing.pages, 'page')} "
        f"({counted(listing.requests, 'request')}, {listing.retried:,} retried)"
        + (" would be deleted (dry run)" if run.settings.dry_run else ""),
        file=sys.stderr,
    )
    if plan is None:
        return report
    return await purge_after(
        plan,
        report,
        private_key=run.private_key,
        settings=run.settings,
        urls=listing.urls,
        deleted=deleted.ids,
        budget=budget,
    )


async def run_with_signals(
    deleter: BulkDeleter,
    readers: Sequence[FileReader],
    *,
    show_progress: bool,
    listing: Listing | None = None,
) -> Report:
    """Run the job with a progress line on a terminal; the first SIGINT/SIGTERM stops it
    gracefully, the second at once (the report is returned either way).

    Raises:
        asyncio.CancelledError: the run was cancelled otherwise than by a second signal.
    """
    progress = ProgressDisplay(deleter, readers) if show_progress and sys.stderr.isatty() else None
    with stop_on_signals(deleter.stop) as interrupts:
        try:
            if progress is not None:
                progress.start()
            return await deleter.run(files=readers, listing=listing)
        except asyncio.CancelledError:
            if not interrupts.forced:
                raise
            report = deleter.last_report
            assert report is not None
            return report
        finally:
            if progress is not None:
                await progress.stop()
