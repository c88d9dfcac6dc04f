"""The CDN cache on the command line: ``--purge-cache``, ``--purge-limit``, ``--url-endpoint``.

Deleting a file does not purge ImageKit's CDN. With ``--purge-cache`` (folders) a selector
run with ``--path`` ends with one wildcard purge of the folder; ``--purge-cache=files`` purges
each deleted file's ``url`` and is refused, before anything is deleted, above
``--purge-limit`` files (every purge counts against the account's monthly quota). Other runs
end with a note saying the CDN may still serve what was deleted, and how to purge it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from ..errors import UsageError
from ..models import Settings
from ..purging import (
    MONTHLY_QUOTA,
    Mode,
    PurgeResult,
    check_url_endpoint,
    count_up_to,
    file_urls,
    folder_purge_url,
    purge_urls,
)
from ..report import Report, write_json_atomic
from ..selection import Selection

if TYPE_CHECKING:
    from .._engine.pager import Listing


@dataclass(frozen=True)
class PurgePlan:
    """What ``--purge-cache`` will purge, checked before anything is read or sent."""

    mode: Mode
    url_endpoint: str
    #: the folder's wildcard URL (folders mode)
    folder_url: str | None
    limit: int


def purge_plan(
    args: argparse.Namespace, selection: Selection | None, environ: Mapping[str, str]
) -> PurgePlan | None:
    """The purge ``--purge-cache`` asks for, or None without it.

    Raises:
        UsageError: no selectors (a file of ids has no URLs), no URL endpoint, folders mode
            without ``--path``, or a folder ImageKit would not purge by wildcard (the
            message says why).
    """
    mode = cast(Mode | None, getattr(args, "purge_cache", None))
    if mode is None:
        return None
    if selection is None:
        raise UsageError(
            "--purge-cache needs listing selectors (--path ...): a file of ids has no URLs to purge"
        )
    endpoint = args.url_endpoint or environ.get("IMAGEKIT_URL_ENDPOINT")
    if not endpoint:
        raise UsageError(
            "--purge-cache needs your URL endpoint: pass --url-endpoint "
            "https://ik.imagekit.io/your_id or set IMAGEKIT_URL_ENDPOINT"
        )
    endpoint = check_url_endpoint(endpoint)
    folder_url = None
    if mode == "folders":
        if selection.folder is None:
            raise UsageError(
                "--purge-cache purges the --path folder; without --path use --purge-cache=files"
            )
        folder_url = folder_purge_url(endpoint, selection.folder)
    return PurgePlan(mode, endpoint, folder_url, args.purge_limit)


async def refuse_above_limit(
    plan: PurgePlan, listing: Listing, private_key: str, settings: Settings
) -> None:
    """In files mode, count the selection (no further than the limit) before deleting, and
    have ``listing`` keep each listed file's URL.

    Raises:
        UsageError: more files than ``--purge-limit``: nothing is deleted.
    """
    if plan.mode != "files":
        return
    from .._engine.pager import Listing  # only a per-file purge counts
    from ..imagekit import ListingClient
    from ..listing_host import StandaloneHost

    counting = Listing(
        ListingClient.for_settings(private_key, settings),
        listing.selection,
        page_size=min(1000, plan.limit + 1),
        now=listing.resolved.now,
    )
    count = await count_up_to(counting, StandaloneHost(settings), plan.limit)
    if count > plan.limit:
        raise UsageError(
            f"--purge-cache=files would purge more than --purge-limit {plan.limit:,} files one "
            f"by one (ImageKit allows {MONTHLY_QUOTA:,} purges a month): purge their folder "
            "(--purge-cache) or raise --purge-limit; nothing was deleted"
        )
    listing.urls = {}


class DeletedIds:
    """A ledger sink keeping the ids deleted (for per-file purges: at most the limit's worth
    plus what was uploaded during the run)."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def deleted(self, file_ids: Sequence[str]) -> None:
        """Keep them."""
        self.ids.extend(file_ids)

    def invalid(self, source: str, line: int, value: str, reason: str) -> None:
        """Not a delete."""

    def duplicate(self, file_id: str, source: str, line: int) -> None:
        """Not a delete."""

    def missing(self, file_ids: Sequence[str], after_retry: Sequence[str]) -> None:
        """Not a delete."""

    def failed(self, file_id: str, error: str, status: int | None, attempts: int) -> None:
        """Not a delete."""

    def not_attempted(self, file_ids: Iterable[str]) -> None:
        """Not a delete."""


async def purge_after(
    plan: PurgePlan,
    report: Report,
    *,
    private_key: str,
    settings: Settings,
    urls: dict[str, str] | None,
    deleted: Sequence[str],
) -> Report:
    """Purge what the run deleted, write ``purge.json`` beside the report and add the purge
    to ``summary.json``; returns the report with its ``purge`` section.

    Nothing is purged after a dry run or a run that deleted nothing.
    """
    result = PurgeResult(plan.mode)
    wanted: list[str] = []
    if report.dry_run:
        result.refused = f"dry run: would purge {plan.folder_url or 'each deleted file'}"
    elif report.counts.deleted == 0:
        result.refused = "nothing was deleted"
    elif plan.folder_url is not None:
        wanted = [plan.folder_url]
    else:
        wanted, result.refused = file_urls(deleted, urls or {}, plan.limit)
    if wanted:
        from ..imagekit import PurgeClient  # only a run that purges

        async with PurgeClient.for_settings(private_key, settings) as client:
            result.records = await purge_urls(client, wanted)
    report = replace(report, purge=result.counts())
    if report.report_dir is not None:
        result.write(report.report_dir)
        write_json_atomic(report.report_dir / "summary.json", report.summary())
    return report


def cdn_note(report: Report) -> str | None:
    """The end-of-run note that the CDN may still serve what was deleted, or None (a dry
    run, nothing deleted, or a run that purged)."""
    if report.purge is not None or report.dry_run or report.counts.deleted == 0:
        return None
    how = (
        "add --purge-cache (one wildcard purge of the --path folder) or --purge-cache=files"
        if report.selection is not None
        else "purge a folder with 'bulkdel delete --path FOLDER --purge-cache', or each URL "
        "with POST /v1/files/purge or the dashboard's Purge Cache"
    )
    return (
        f"bulkdel: note: ImageKit's CDN may still serve the {report.counts.deleted:,} deleted "
        f"files until their cache expires (deleting does not purge it); {how}"
    )


def print_note(report: Report) -> None:
    """Print ``cdn_note`` on stderr when there is one."""
    note = cdn_note(report)
    if note is not None:
        print(note, file=sys.stderr)
