"""``bulkdel delete``: ids from files or stdin, or the files selectors pick."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..budget import AccountBudget
from ..engine.deleter import BulkDeleter
from ..engine.sources import FileReader, open_files
from ..errors import UsageError
from ..imagekit import ListingClient
from ..purge.plan import DeletedIds, PurgePlan, purge_after, refuse_above_limit
from ..record.ledger import LedgerSink
from ..record.report import Report
from .budget import account_budget, check_redis
from .confirm import Declined, confirm, files_target
from .metrics import serving_metrics
from .preflight import check_api
from .progress import ProgressDisplay
from .purge import purge_plan
from .settings import Job, delete_job
from .signals import stop_on_signals
from .words import counted

if TYPE_CHECKING:
    from ..listing.pager import Listing


async def run_delete(args: argparse.Namespace) -> Report:
    """Run ``bulkdel delete`` and return its report.

    Raises:
        UsageError: a bad option or source, or no key, or a ``--metrics-port`` that cannot
            be listened on.
        Declined: a terminal user did not confirm; nothing was sent.
        UnreachableError, FatalAPIError: the preflight failed; nothing was read or sent.
    """
    job = delete_job(args, os.environ)
    try:
        plan = purge_plan(args, job.selection, os.environ)
        with serving_metrics(args) as observers:
            args.run_observers = observers
            report = await _run_delete(args, job, plan)
            for observer in observers:
                observer.purged((report.purge or {}).get("requests", 0))
    except BaseException:
        # A run refused or declined before its report began leaves no empty directory
        # behind (rmdir removes only an empty one).
        if job.made_report_dir and job.report_dir is not None:
            with contextlib.suppress(OSError):
                job.report_dir.rmdir()
        raise
    return report


async def _run_delete(args: argparse.Namespace, job: Job, plan: PurgePlan | None) -> Report:
    if job.selection is not None:
        await check_api(job.settings, job.private_key, skip=args.no_preflight)
        wait = args.redis_wait
        async with account_budget(job.redis_url, job.settings, job.private_key, wait=wait) as b:
            return await _delete_selected(args, job, b, plan)
    readers = open_files(args.sources or ["-"], args.format, args.column)
    try:
        # Opened (a bad path or header is a usage error first), no id read yet: a wrong
        # key, base URL or TLS fails here, in one request, before anything is read or sent.
        await check_api(job.settings, job.private_key, skip=args.no_preflight)
        await check_redis(job.redis_url, job.private_key, args.redis_wait)
        confirm(job.settings, yes=args.yes, target=lambda: files_target(readers))
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    say_stdin(readers)
    async with account_budget(
        job.redis_url, job.settings, job.private_key, wait=args.redis_wait
    ) as budget:
        deleter = _deleter(args, job, budget)
        return await run_with_signals(deleter, readers, show_progress=not args.quiet)


def say_stdin(readers: Sequence[FileReader]) -> None:
    """On a terminal stdin, say that ids are read from it and how to end them (a run that
    seems to hang is waiting for input)."""
    if any(r.name == "<stdin>" for r in readers) and sys.stdin is not None and sys.stdin.isatty():
        print("bulkdel: reading ids from stdin; Ctrl-D ends", file=sys.stderr)


def _deleter(
    args: argparse.Namespace,
    job: Job,
    budget: AccountBudget | None,
    sinks: Sequence[LedgerSink] = (),
) -> BulkDeleter:
    return BulkDeleter(
        job.private_key if not job.settings.dry_run else None,
        settings=job.settings,
        report_dir=job.report_dir,
        journal=args.journal,
        budget=budget,
        sinks=sinks,
        invocation=getattr(args, "invocation", None),
        observers=getattr(args, "run_observers", ()),
    )


def listing_for(job: Job) -> Listing:
    """The listing of ``job``'s selection (its client is closed by the listing)."""
    from ..listing.pager import Listing  # only a job with a selection lists

    assert job.selection is not None and job.private_key is not None
    client = ListingClient.for_settings(job.private_key, job.settings)
    return Listing(client, job.selection)


async def _delete_selected(
    args: argparse.Namespace, job: Job, budget: AccountBudget | None, plan: PurgePlan | None
) -> Report:
    """Selectors: list and delete at once (the listing is the source; a dry run lists and
    counts files and bytes), then purge the CDN when asked."""
    listing = listing_for(job)
    assert job.private_key is not None and job.selection is not None
    resolved = listing.resolved.describe()
    print(f"bulkdel: selecting {resolved}", file=sys.stderr)
    try:
        if plan is not None:
            await refuse_above_limit(plan, listing, job.private_key, job.settings)
        what = f"every file selected by {job.selection.describe()} ({resolved})"
        confirm(job.settings, yes=args.yes, target=lambda: what)
    except (Declined, UsageError):
        await listing.close()
        raise
    deleted = DeletedIds()
    deleter = _deleter(args, job, budget, [deleted] if listing.urls is not None else [])
    report = await run_with_signals(deleter, (), show_progress=not args.quiet, listing=listing)
    print(
        f"bulkdel: listing: {counted(listing.files, 'file')}, "
        f"{counted(listing.bytes, 'byte')} in {counted(listing.pages, 'page')} "
        f"({counted(listing.requests, 'request')}, {listing.retried:,} retried)"
        + (" would be deleted (dry run)" if job.settings.dry_run else ""),
        file=sys.stderr,
    )
    if plan is None:
        return report
    return await purge_after(
        plan,
        report,
        private_key=job.private_key,
        settings=job.settings,
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
