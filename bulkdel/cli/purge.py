"""The CDN cache on the command line: ``delete --purge-cache``, and ``bulkdel purge``.

Deleting a file does not purge ImageKit's CDN. With ``--purge-cache`` (folders) a selector
run with ``--path`` ends with one wildcard purge of the folder; ``--purge-cache=files`` purges
each deleted file's ``url`` and is refused, before anything is deleted, above
``--purge-limit`` files (every purge counts against the account's monthly quota). After the
fact, ``bulkdel purge REPORT_DIR`` purges what ``--purge-cache`` would have (the selection's
folder, or the manifest's URLs); ``--folder`` and ``--url`` purge what they name. The
orchestration is the library's (``bulkdel.purge.plan``); this module reads options.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError
from ..listing.selection import Selection
from ..models import DEFAULT_PURGE_LIMIT
from ..purge.cache import MONTHLY_QUOTA, Mode, PurgeResult, check_url_endpoint, folder_purge_url
from ..purge.plan import (
    DeletedIds,
    PurgePlan,
    plan_purge,
    purge_after,
    purge_listed,
    refuse_above_limit,
    report_urls,
)
from ..record.report import Report
from .options import PurgeCacheOptions, PurgeOptions
from .words import counted

__all__ = [
    "DeletedIds",
    "PurgePlan",
    "cdn_note",
    "print_note",
    "purge_after",
    "purge_plan",
    "refuse_above_limit",
    "run_purge",
]


def purge_plan(
    options: PurgeCacheOptions, selection: Selection | None, environ: Mapping[str, str]
) -> PurgePlan | None:
    """The purge ``--purge-cache`` asks for, or None without it.

    Raises:
        UsageError: see ``bulkdel.purge.plan.plan_purge``; its refusals of the options
            themselves are worded here, as the options and the variable that set them.
    """
    mode = options.mode
    if mode is None:
        return None
    endpoint = options.url_endpoint or environ.get("IMAGEKIT_URL_ENDPOINT")
    if selection is None:
        raise UsageError(
            "--purge-cache needs listing selectors (--path ...): a file of ids has no URLs to "
            "purge (after the run: bulkdel purge REPORT_DIR, --folder or --url)"
        )
    if not endpoint:
        raise UsageError(
            "--purge-cache needs your URL endpoint: pass --url-endpoint "
            f"{_YOUR_ENDPOINT} or set IMAGEKIT_URL_ENDPOINT"
        )
    if mode == "folders" and selection.folder is None:
        raise UsageError(
            "--purge-cache purges the --path folder; without --path use --purge-cache=files"
        )
    return plan_purge(mode, selection, endpoint, options.limit)


def cdn_note(report: Report, environ: Mapping[str, str] | None = None) -> str | None:
    """The end-of-run note that the CDN may still serve what was deleted, with a command
    that purges it now and that ``bulkdel purge`` will accept for this report, or None (a
    dry run, nothing deleted, or a run that purged)."""
    if report.purge is not None or report.dry_run or report.counts.deleted == 0:
        return None
    has_urls = report.selection is not None or bool(report.manifest and report.manifest["records"])
    command = _purge_command(report, os.environ if environ is None else environ)
    if report.report_dir is None and has_urls:
        command = "bulkdel purge REPORT_DIR"
    if command is not None:
        how = (
            f"purge them now with '{command}' (next time, --purge-cache purges as part of the run)"
        )
    elif has_urls:
        how = (
            "its files cannot be purged one by one here (too many for --purge-limit and "
            "the monthly quota, or no manifest.jsonl): purge their folders with "
            "'bulkdel purge --folder FOLDER'"
        )
    else:
        how = (
            "the report holds ids only, no URLs: purge with 'bulkdel purge --folder FOLDER' "
            "or 'bulkdel purge --url URL' (or delete by selector with --purge-cache)"
        )
    n = report.counts.deleted
    files = (
        "the deleted file until its" if n == 1 else f"the {counted(n, 'deleted file')} until their"
    )
    return (
        f"bulkdel: note: ImageKit's CDN may still serve {files} cache expires "
        f"(deleting does not purge it); {how}"
    )


#: the URL endpoint a suggested command shows for the user to fill in
_YOUR_ENDPOINT = "https://ik.imagekit.io/your_id"


def _purge_command(report: Report, environ: Mapping[str, str]) -> str | None:
    """A ``bulkdel purge`` command that the planner accepts for ``report``'s directory (the
    same checks ``bulkdel purge`` makes), or None when none would be."""
    where = report.report_dir
    if where is None:
        return None
    summary = report.summary()
    endpoint = environ.get("IMAGEKIT_URL_ENDPOINT")
    deleted = report.counts.deleted
    tries: list[tuple[str, Mode | None, str | None, int]] = [
        (f"bulkdel purge {where}", None, endpoint, DEFAULT_PURGE_LIMIT),
        (f"bulkdel purge {where} --url-endpoint {_YOUR_ENDPOINT}", "folders", _YOUR_ENDPOINT, 1),
    ]
    if DEFAULT_PURGE_LIMIT < deleted <= MONTHLY_QUOTA:
        tries.append((f"bulkdel purge {where} --purge-limit {deleted}", "files", None, deleted))
    for command, mode, url_endpoint, limit in tries:
        try:
            report_urls(where, summary, mode=mode, url_endpoint=url_endpoint, limit=limit)
        except UsageError:
            continue
        return command
    return None


def print_note(report: Report) -> None:
    """Print ``cdn_note`` on stderr when there is one."""
    note = cdn_note(report)
    if note is not None:
        print(note, file=sys.stderr)


def _named(options: PurgeOptions, endpoint: str | None) -> tuple[Mode, list[str]]:
    """The URLs ``--folder`` and ``--url`` name, checked."""
    if options.folders and not endpoint:
        raise UsageError(
            "--folder needs your URL endpoint: pass --url-endpoint "
            "https://ik.imagekit.io/your_id or set IMAGEKIT_URL_ENDPOINT"
        )
    urls = [folder_purge_url(check_url_endpoint(endpoint or ""), f) for f in options.folders]
    for url in options.urls:
        try:
            check_url_endpoint(url.removesuffix("*"))  # an http(s) URL
        except UsageError:
            raise UsageError(
                f"--url takes a file's full http(s) URL, like {_YOUR_ENDPOINT}/folder/file.jpg, "
                f"got {url!r}"
            ) from None
    if len(options.urls) > options.limit:
        raise UsageError(
            f"{len(options.urls):,} URLs, above --purge-limit {options.limit:,} (each purge "
            f"counts against ImageKit's {MONTHLY_QUOTA:,} a month); raise --purge-limit"
        )
    return ("folders" if options.folders else "files"), [*urls, *options.urls]


async def _purge(options: PurgeOptions) -> tuple[PurgeResult, Path]:
    from ..verify import read_summary
    from .settings import default_report_dir
    from .verify import run_account

    report_dir = options.report_dir
    if (report_dir is None) == (not options.folders and not options.urls):
        raise UsageError("give a REPORT_DIR, or --folder / --url (not both)")
    endpoint = options.url_endpoint or os.environ.get("IMAGEKIT_URL_ENDPOINT")
    refused = None
    if report_dir is not None:
        summary = read_summary(report_dir)
        mode, urls, refused = report_urls(
            report_dir,
            summary,
            mode=options.mode,
            url_endpoint=endpoint,
            limit=options.limit,
        )
    else:
        summary = {}
        mode, urls = _named(options, endpoint)
    settings, key = run_account(options.connection, options.requests, summary, os.environ)
    result = await purge_listed(mode, urls, refused=refused, private_key=key, settings=settings)
    out = (
        options.output_dir
        or report_dir
        or default_report_dir().with_name(default_report_dir().name.replace("report", "purge"))
    )
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    return result, result.write(out)


def run_purge(options: PurgeOptions) -> int:
    """Run ``bulkdel purge``; returns the exit code (0 every purge completed or nothing to
    purge, 1 some failed or still pending)."""
    result, path = asyncio.run(_purge(options))
    counts = result.counts()
    if options.json:
        print(json.dumps(result.as_dict(), indent=2))
    line = (
        f"bulkdel purge ({counts['mode']}): {counted(counts['requests'], 'request')}, "
        f"{counts['completed']:,} completed, {counts['pending']:,} pending, "
        f"{counts['failed']:,} failed"
        + (f"; nothing purged: {counts['refused']}" if counts["refused"] else "")
    )
    print(f"{line}\n  purge.json: {path}", file=sys.stderr)
    return 1 if counts["failed"] or counts["pending"] else 0
