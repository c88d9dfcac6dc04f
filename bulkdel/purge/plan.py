"""Purge orchestration: what a delete's ``--purge-cache`` purges, checked before anything is
sent, and the purge after the delete or after the fact (``bulkdel purge REPORT_DIR``).

The rules (the wildcard rule, the monthly quota, polling) are ``purging``'s; this module
decides *which* URLs: one wildcard for the selection's folder, or each deleted file's listed
``url`` (refused above a limit: every purge counts against the account's 1,000 a month). A
service can use it as the command line does: ``plan_purge`` up front, ``refuse_above_limit``
before deleting, ``purge_after`` with the report; ``purge_report`` later, from the report
directory alone (the selection's folder in ``summary.json``, the URLs in ``manifest.jsonl``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..budget import AccountBudget, budget_for, run_lease
from ..core.sampling import read_ids
from ..core.stop import StopSignal
from ..errors import UsageError
from ..listing.selection import Selection
from ..models import Settings
from ..record.manifest import MANIFEST, read_manifest
from ..record.report import Report, write_json_atomic
from .cache import (
    MONTHLY_QUOTA,
    Mode,
    PurgeResult,
    check_url_endpoint,
    count_up_to,
    file_urls,
    folder_purge_url,
    purge_urls,
    wildcard_refusal,
)

if TYPE_CHECKING:
    from ..imagekit.purge import PurgeClient
    from ..listing.pager import Listing


@dataclass(frozen=True)
class PurgePlan:
    """What a purge after the delete will purge, checked before anything is read or sent."""

    mode: Mode
    url_endpoint: str
    #: the folder's wildcard URL (folders mode)
    folder_url: str | None
    limit: int


def plan_purge(
    mode: Mode, selection: Selection | None, url_endpoint: str | None, limit: int
) -> PurgePlan:
    """The purge of ``mode`` for a run of ``selection``.

    Raises:
        UsageError: no selection (a file of ids has no URLs), no URL endpoint, folders mode
            without a folder, or a folder ImageKit would not purge by wildcard.
    """
    if selection is None:
        raise UsageError(
            "selection is None: a file of ids has no URLs to purge (after the run: purge "
            "from its report, or the folders or URLs by name)",
            "selection",
        )
    if not url_endpoint:
        raise UsageError(
            "a purge needs your URL endpoint: url_endpoint, like https://ik.imagekit.io/your_id",
            "url_endpoint",
        )
    endpoint = check_url_endpoint(url_endpoint)
    folder_url = None
    if mode == "folders":
        if selection.folder is None:
            raise UsageError(
                "mode 'folders' purges the selection's path folder; without a path use "
                "mode 'files'",
                "mode",
            )
        folder_url = folder_purge_url(endpoint, selection.folder)
    return PurgePlan(mode, endpoint, folder_url, limit)


async def refuse_above_limit(
    plan: PurgePlan, listing: Listing, private_key: str, settings: Settings
) -> None:
    """In files mode, count the selection (no further than the limit) before deleting, and
    have ``listing`` keep each listed file's URL.

    Raises:
        UsageError: more files than the limit: nothing is deleted.
    """
    if plan.mode != "files":
        return
    from ..imagekit import ListingClient
    from ..listing.host import StandaloneHost
    from ..listing.pager import Listing  # only a per-file purge counts

    counting = Listing(
        ListingClient.for_settings(private_key, settings),
        listing.selection,
        page_size=min(1000, plan.limit + 1),
        now=listing.resolved.now,
    )
    count = await count_up_to(counting, StandaloneHost(settings), plan.limit)
    if count > plan.limit:
        raise UsageError(
            f"a purge of each file would purge more than limit {plan.limit:,} files one by one "
            f"(ImageKit allows {MONTHLY_QUOTA:,} purges a month): purge their folder instead, "
            "or raise limit; nothing was deleted",
            "limit",
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


async def _purge(
    client: PurgeClient,
    result: PurgeResult,
    wanted: list[str],
    *,
    private_key: str,
    settings: Settings,
    budget: AccountBudget | None,
) -> PurgeResult:
    """Purge ``wanted`` on turns from the account's budget (this process's for the account
    when ``budget`` is None), capped at ``settings.rate`` as a delete is."""
    if wanted:
        if budget is None:
            budget = budget_for(settings.base_url, private_key)
        lease = run_lease(budget, StopSignal(), settings.rate)
        try:
            result.records = await purge_urls(client, wanted, lease=lease)
        finally:
            await lease.release()
    return result


async def purge_after(
    plan: PurgePlan,
    report: Report,
    *,
    private_key: str,
    settings: Settings,
    urls: dict[str, str] | None,
    deleted: Sequence[str],
    budget: AccountBudget | None = None,
) -> Report:
    """Purge what the run deleted, write ``purge.json`` beside the report and add the purge
    to ``summary.json``; returns the report with its ``purge`` section.

    Nothing is purged after a dry run or a run that deleted nothing. Every purge request and
    status poll takes its turn from ``budget`` (the delete's; None: this process's budget of
    the account, which the delete shared).
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
            await _purge(
                client, result, wanted, private_key=private_key, settings=settings, budget=budget
            )
    report = replace(report, purge=result.counts())
    if report.report_dir is not None:
        result.write(report.report_dir)
        write_json_atomic(report.report_dir / "summary.json", report.summary())
    return report


def report_urls(
    report_dir: str | os.PathLike[str],
    summary: dict[str, Any],
    *,
    mode: Mode | None,
    url_endpoint: str | None,
    limit: int,
) -> tuple[Mode, list[str], str | None]:
    """What ``--purge-cache`` would have purged after the run of ``report_dir``: the mode,
    the URLs, and why nothing is purged (a dry run, nothing deleted).

    ``mode`` None picks folders when the run selected a folder ImageKit purges by wildcard
    and a URL endpoint is known, else files (the manifest's URLs of the deleted ids).

    Raises:
        UsageError: folders mode without a folder or endpoint; files mode above ``limit``
            (nothing purged) or without a manifest holding URLs.
    """
    selection = summary.get("selection") or {}
    folder = selection.get("folder") if isinstance(selection, dict) else None
    if mode is None:
        usable = isinstance(folder, str) and wildcard_refusal(folder) is None
        mode = "folders" if usable and url_endpoint else "files"
    counts = summary.get("counts", {})
    if summary.get("dry_run"):
        return mode, [], "dry run: nothing was deleted"
    if not counts.get("deleted"):
        return mode, [], "nothing was deleted"
    if mode == "folders":
        if not isinstance(folder, str):
            raise UsageError(
                f"{str(report_dir)!r} was not a run of a path selection: there is no folder to "
                "purge; use mode files (the manifest's URLs)",
                "mode",
            )
        if not url_endpoint:
            raise UsageError(
                "a folder purge needs your URL endpoint: url_endpoint, like "
                "https://ik.imagekit.io/your_id",
                "url_endpoint",
            )
        return mode, [folder_purge_url(check_url_endpoint(url_endpoint), folder)], None
    return mode, _manifest_urls(Path(report_dir), int(counts["deleted"]), limit, folder), None


def _manifest_urls(report_dir: Path, deleted: int, limit: int, folder: object) -> list[str]:
    # The reason there is nothing to purge comes before the limit on purging it.
    manifest = report_dir / MANIFEST
    if not manifest.exists():
        raise UsageError(
            f"{report_dir} has no {MANIFEST} (the run read ids only): there are no URLs to "
            "purge; purge their folder, or the files' URLs by name"
        )
    if deleted > limit:
        usable = isinstance(folder, str) and wildcard_refusal(folder) is None
        way = " (mode folders)" if usable else ""
        raise UsageError(
            f"{deleted:,} files were deleted, above limit {limit:,}: purging them one "
            f"by one would spend that many of ImageKit's {MONTHLY_QUOTA:,} purges a month; "
            f"purge their folder{way} or raise limit",
            "limit",
            "mode",
        )
    gone = set(read_ids(report_dir / "deleted.txt"))
    urls = {
        r["fileId"]: r["url"]
        for r in read_manifest(manifest)
        if r["fileId"] in gone and isinstance(r.get("url"), str)
    }
    if not urls:
        raise UsageError(
            f"{manifest} holds no URL of a deleted file; purge their folder, or the URLs by name"
        )
    return list(dict.fromkeys(urls.values()))


async def purge_listed(
    mode: Mode,
    urls: list[str],
    *,
    refused: str | None,
    private_key: str,
    settings: Settings,
    budget: AccountBudget | None = None,
) -> PurgeResult:
    """Purge ``urls`` (nothing when ``refused`` says why not) and poll them, each request on
    its turn from ``budget`` (None: this process's budget of the account); the result."""
    result = PurgeResult(mode, refused=refused)
    if urls and refused is None:
        from ..imagekit import PurgeClient

        async with PurgeClient.for_settings(private_key, settings) as client:
            await _purge(
                client, result, urls, private_key=private_key, settings=settings, budget=budget
            )
    return result
