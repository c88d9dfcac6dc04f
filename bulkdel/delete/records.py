"""What a run knows beyond its counts, added to its report; and its records closed with it.

The deleter opens a run's records (the report files, the journal, the manifest) before the
run and closes them after it with how it ended; these are the after part.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..engine.pipeline import Pipeline
    from ..listing.pager import Listing
    from ..record.audit import Audit
    from ..record.journal.journal import Journal
    from ..record.manifest import Manifest
    from ..record.report import Report
    from ..record.writer import ReportWriter


def with_records(
    report: Report, listing: Listing | None, manifest: Manifest | None, audit: Audit
) -> Report:
    """The report with what the run knows beyond counts: its selection, manifest, bytes
    deleted and audit record."""
    audit.finish()
    selection = listing.resolved.as_dict() if listing is not None else None
    if manifest is not None:
        manifest.close()
    return replace(
        report,
        selection=selection,
        manifest=None if manifest is None else manifest.as_dict(listed=listing is not None),
        bytes_deleted=None if manifest is None else manifest.bytes_known,
        audit=audit.as_dict(selection),
    )


async def close_records(
    report: Report, pipeline: Pipeline, writer: ReportWriter | None, journal: Journal | None
) -> None:
    """Close the journal (with how the run ended) and the report files (with the summary)."""
    if journal is not None:
        journal.set_meta(input_done=str(pipeline.input_done), version="1")
        journal.set_abort(report.abort)
        await journal.close()
    if writer is not None:
        # flushes, two fsyncs and a rename: in a thread, so the caller's loop is not held
        # while the disk confirms (the report is whole once this returns)
        await asyncio.to_thread(writer.close, report.summary())
