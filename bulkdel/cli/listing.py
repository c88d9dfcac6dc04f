"""``bulkdel list``: the ids (or JSONL records) of the files the selectors pick, to review."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from ..budget import AccountBudget
from ..errors import UsageError
from ..listing.host import StandaloneHost
from ..listing.pager import Listing
from ..models import Abort
from .delete import listing_for
from .options import ListOptions
from .preflight import check_api
from .redis_setup import account_budget
from .settings import RunOptions, list_run
from .signals import stop_on_signals


async def run_list(options: ListOptions) -> Abort | None:
    """Write the selected files to stdout or ``--output``; the counts on stderr.

    A first SIGINT/SIGTERM stops after the page in flight (what was listed is written
    whole); a second stops at once.

    Returns:
        why the listing stopped early, or None when it listed everything.

    Raises:
        UsageError: a bad option, no selector, or no key.
        ListingError: the listing cannot go on (a fatal answer, or a page kept failing).
    """
    run = list_run(options, os.environ)
    await check_api(run.settings, run.private_key, skip=options.no_preflight)
    # opened once the key is known good (an existing file is not emptied for nothing)
    out = sys.stdout if options.output is None else _open_output(options.output)
    try:
        wait = options.redis.wait
        async with account_budget(
            run.redis_url, run.settings, run.private_key, wait=wait
        ) as budget:
            return await _list(run, budget, out, jsonl=options.jsonl)
    finally:
        if out is not sys.stdout:
            out.close()


def _open_output(path: Path) -> TextIO:
    """``--output``, opened before any page is listed: a path that cannot be written is a
    usage error naming the option, not an internal error."""
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output {str(path)!r} cannot be written: {exc.strerror}") from None


async def _list(
    run: RunOptions, budget: AccountBudget | None, out: TextIO, *, jsonl: bool
) -> Abort | None:
    listing = listing_for(run)
    host = StandaloneHost(run.settings, budget=budget)
    with stop_on_signals(host.stop) as interrupts:
        try:
            await _write(listing, host, out, jsonl=jsonl)
        except asyncio.CancelledError:
            if not interrupts.forced:
                raise
        finally:
            await listing.close()
            out.flush()
    print(
        f"bulkdel: {listing.files:,} files, {listing.bytes:,} bytes "
        f"({listing.pages:,} pages, {listing.requests:,} requests)",
        file=sys.stderr,
    )
    return interrupts.abort


async def _write(listing: Listing, host: StandaloneHost, out: TextIO, *, jsonl: bool) -> None:
    async for entries in listing.entries(host):
        lines = []
        for entry in entries:
            if jsonl:
                lines.append(json.dumps(summary_line(entry)) + "\n")
            elif isinstance(entry.get("fileId"), str):
                lines.append(entry["fileId"] + "\n")
        out.write("".join(lines))


def summary_line(entry: dict[str, Any]) -> dict[str, Any]:
    """The JSONL record ``bulkdel list --jsonl`` writes for one file."""
    return {
        "fileId": entry.get("fileId"),
        "name": entry.get("name"),
        "path": entry.get("filePath"),
        "size": entry.get("size"),
        "createdAt": entry.get("createdAt"),
        # what a CDN purge of the file needs, after it is deleted from this list
        "url": entry.get("url"),
    }
