"""``bulkdel job submit``: put a job's batches on its Redis stream."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from ...engine.sources import FileReader, files_chunks, open_files
from ...errors import Stopped, UsageError
from ...listing.host import StandaloneHost
from ...record.journal.journal import fingerprint
from ..confirm import confirm, files_target
from ..exits import EXIT_INCOMPLETE, EXIT_OK
from ..options import SubmitOptions
from ..redis_setup import job_redis, redis_session
from ..settings import RunOptions, read_private_key, selection_from, settings_for
from ..signals import stop_on_signals
from .gates import gate_by_count

if TYPE_CHECKING:
    from ...jobs import SubmitResult, Submitter
    from ...listing.selection import Selection
    from ...models import Settings


async def run_submit(options: SubmitOptions) -> int:
    """``bulkdel job submit``: exit 0 once the whole input is on the job's stream; 2 when
    ``--max-delete`` refuses it or a terminal user declines (nothing put on Redis); 0 for a
    ``--dry-run`` (counted, nothing put on Redis).

    Raises:
        Declined: a terminal user did not confirm.
    """
    from ...jobs import Submitter
    from ...jobs.submit_watch import resubmit_command

    settings = settings_for(options.connection, options.requests, os.environ)
    selection = selection_from(options.selectors)
    sources = list(options.source.sources)
    if selection is not None and sources:
        raise UsageError("give files of ids or listing selectors (--path, --tag, ...), not both")
    ended = await gate_by_count(options, settings, selection)
    if ended is not None:
        return ended
    job = options.job
    async with redis_session(*job_redis(options.redis)) as (redis, wait):
        submitter = Submitter(
            redis,
            job,
            batch_size=options.requests.batch_size,
            max_open=options.max_open,
            wait=wait,
            on_full=lambda n: _say_waiting(job, n),
            resubmit=resubmit_command(job, sources or (None if selection else ["-"])),
        )
        with stop_on_signals(submitter.stop.set):
            try:
                result = await _submit(options, submitter, settings, selection)
            except Stopped as stopped:  # a signal while waiting for Redis or for room
                result = submitter.result
                code = stopped.reason.exit_code if stopped.reason else None
                _say(job, f"stopped ({stopped})", result)
                return code if code is not None else EXIT_INCOMPLETE
        if options.keep is not None and not result.cancelled:
            from ...jobs import keep_job

            await keep_job(redis, job, options.keep)
    what = "complete" if result.complete else "cancelled" if result.cancelled else "stopped"
    _say(job, what, result)
    return EXIT_OK if result.complete else EXIT_INCOMPLETE


def _say_waiting(job: str, open_batches: int) -> None:
    print(
        f"bulkdel: job {job}: {open_batches:,} batches open, waiting for workers to take them",
        file=sys.stderr,
    )


def _say(job: str, what: str, result: SubmitResult) -> None:
    resumed = f" (resumed after {result.resumed_at:,} input items)" if result.resumed_at else ""
    if result.rolled_back:
        resumed += " (Redis went back to an older state: the input was read again from there)"
    print(
        f"bulkdel: job {job}: submit {what}: {result.batches:,} batches added{resumed}",
        file=sys.stderr,
    )


async def _submit(
    options: SubmitOptions,
    submitter: Submitter,
    settings: Settings,
    selection: Selection | None,
) -> SubmitResult:
    if selection is not None:
        from ..delete import listing_for

        key = read_private_key(options.connection.private_key_file, os.environ)
        listing = listing_for(RunOptions(settings, selection, key))
        try:
            resolved = listing.resolved.describe()
            what = f"every file selected by {selection.describe()} ({resolved})"
            confirm(settings, yes=options.yes, target=lambda: what)
            chunks = listing.chunks(StandaloneHost(settings))
            print_ = fingerprint([listing.name], settings.base_url)
            return await submitter.submit(chunks, print_, resumable=False)
        finally:
            await listing.close()
    source = options.source
    sources = list(source.sources) or ["-"]
    readers = open_files(sources, source.format, source.column)
    try:
        confirm(settings, yes=options.yes, target=lambda: files_target(readers))
    except BaseException:
        for reader in readers:
            reader.close()
        raise
    print_ = fingerprint([r.name for r in readers], settings.base_url)

    def reopen() -> Any:
        return _file_chunks(open_files(sources, source.format, source.column))

    # stdin cannot be read again: after a Redis rollback the user pipes it in again
    again = None if "-" in sources else reopen
    return await submitter.submit(_file_chunks(readers), print_, reopen=again)


async def _file_chunks(readers: list[FileReader]) -> Any:
    try:
        async for chunk in files_chunks(readers):
            yield chunk
    finally:
        for reader in readers:
            reader.close()
