"""``job submit``'s gates, those of ``delete``: ``--max-delete``, ``--dry-run`` and the
terminal prompt (``confirm``), with ``delete``'s wording.

A job's batches are taken by workers as soon as they are on its stream, so ``delete``'s way
(hold the batches back until the whole input is read) would hold them in Redis. Instead the
input is read once before anything goes to Redis, to count its unique ids: a second read of
the files, or a second listing of a selection. Standard input cannot be read twice: with
``--max-delete`` it is refused (give a file).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterable
from dataclasses import dataclass

from ...dedupe import Deduper
from ...engine.ingest import Ingest
from ...engine.sources import files_chunks, open_files
from ...errors import UsageError
from ...listing.host import StandaloneHost
from ...listing.selection import Selection
from ...models import Chunk, Settings
from ..exits import EXIT_OK, EXIT_USAGE
from ..options import SubmitOptions
from ..settings import RunOptions, read_private_key


@dataclass
class InputCounts:
    """What the input holds, as the report counts it."""

    read: int = 0
    invalid: int = 0
    duplicate: int = 0
    unique: int = 0


async def gate_by_count(
    options: SubmitOptions, settings: Settings, selection: Selection | None
) -> int | None:
    """``--max-delete`` and ``--dry-run``: the exit code when the submit ends here (refused
    above the limit, or a dry run counted), None when it goes on.

    Raises:
        UsageError: ``--max-delete`` with standard input.
    """
    limit = settings.max_delete
    if limit is None and not settings.dry_run:
        return None
    sources = list(options.source.sources) or ["-"]
    if selection is None and "-" in sources and not settings.dry_run:
        raise UsageError(
            "--max-delete needs files or selectors: standard input cannot be read twice "
            "(counted, then submitted); give a file",
            "max_delete",
        )
    counts = await _count(options, settings, selection, sources)
    job = options.job
    if limit is not None and counts.unique > limit:
        print(
            f"bulkdel: job {job}: submit refused: the input holds more than {limit:,} unique "
            "ids (--max-delete); nothing was sent",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not settings.dry_run:
        return None
    print(
        f"bulkdel: job {job}: dry run: {counts.unique:,} ids would be submitted (read "
        f"{counts.read:,}, invalid {counts.invalid:,}, duplicate {counts.duplicate:,}); "
        "nothing was put on Redis",
        file=sys.stderr,
    )
    return EXIT_OK


async def _count(
    options: SubmitOptions, settings: Settings, selection: Selection | None, sources: list[str]
) -> InputCounts:
    if selection is None:
        readers = open_files(sources, options.source.format, options.source.column)
        try:
            return await _tally(files_chunks(readers))
        finally:
            for reader in readers:
                reader.close()
    from ..delete import listing_for

    key = read_private_key(options.connection.private_key_file, os.environ)
    listing = listing_for(RunOptions(settings, selection, key))
    try:
        return await _tally(listing.chunks(StandaloneHost(settings)))
    finally:
        await listing.close()


async def _tally(chunks: AsyncIterable[Chunk]) -> InputCounts:
    """Count through ``delete``'s own ingest (``engine.ingest``): the same id rule and
    de-duplication, so the gate's count is the run's."""
    counts = InputCounts()
    ingest = Ingest(Deduper())
    try:
        async for chunk in chunks:
            accepted = await ingest.accept(chunk)
            counts.read += len(chunk.items)
            counts.invalid += len(accepted.invalid)
            counts.duplicate += len(accepted.duplicates)
            counts.unique += len(accepted.fresh)
    finally:
        await ingest.aclose()
    return counts
