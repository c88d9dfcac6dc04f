"""``bulkdel verify REPORT_DIR``: check against the server that a report tells the truth.

The checks are the library's (``bulkdel.verify``); this module reads the options and the
key, refuses a key that is not the run's (its fingerprint is in ``summary.json``: another
account would answer 404 for every id and prove nothing), writes ``verify.json`` and
prints what was found. Exit 0 when every check holds, 1 with the discrepancies listed, 2 for
a usage error, 3 for a fatal answer (a bad key), 130 when stopped by a signal.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..record.audit import key_fingerprint
from ..verify import Verification, Verifier, read_summary
from .options import ConnectionOptions, RequestOptions, VerifyOptions
from .redis_setup import account_budget, resolve_redis_url
from .settings import read_private_key, settings_for
from .signals import stop_on_signals

if TYPE_CHECKING:
    from ..models import Settings

EXIT_OK, EXIT_FOUND, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 3, 130


def run_account(
    connection: ConnectionOptions,
    requests: RequestOptions,
    summary: dict[str, Any],
    environ: Mapping[str, str],
) -> tuple[Settings, str]:
    """The settings and key for a command on a finished run: the run's base URL unless
    told otherwise, and a key whose fingerprint is the run's.

    Raises:
        UsageError: no key, a bad option, or a key of another account than the run's.
    """
    account = (summary.get("audit") or {}).get("account") or {}
    if connection.base_url is None and "IMAGE_KIT_BASE_URL" not in environ:
        connection = dataclasses.replace(connection, base_url=account.get("base_url"))
    settings = settings_for(connection, requests, environ)
    key = read_private_key(connection.private_key_file, environ)
    expected = account.get("key_fingerprint")
    if expected and key_fingerprint(key) != expected:
        raise UsageError(
            f"the key is not the one the run used (its fingerprint {key_fingerprint(key)}, the "
            f"run's {expected}): another account's answers would prove nothing"
        )
    return settings, key


async def _verify(options: VerifyOptions) -> Verification:
    from ..imagekit import ListingClient
    from ..imagekit.details import DetailsClient
    from ..listing.host import StandaloneHost

    summary = read_summary(options.report_dir)
    settings, key = run_account(options.connection, options.requests, summary, os.environ)
    redis_url = resolve_redis_url(options.redis.url, os.environ)
    async with account_budget(redis_url, settings, key, wait=options.redis.wait) as budget:
        host = StandaloneHost(settings, budget=budget)
        async with DetailsClient.for_settings(key, settings) as details:
            verifier = Verifier(
                options.report_dir,
                details,
                host,
                listing_client=ListingClient.for_settings(key, settings),
                sample=options.sample,
            )
            with stop_on_signals(host.stop):
                return await verifier.run()


def run_verify(options: VerifyOptions) -> int:
    """Run ``bulkdel verify``; returns the exit code."""
    result = asyncio.run(_verify(options))
    path = result.write(options.report_dir)
    if options.json:
        import json

        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_verification(result, path), file=sys.stderr)
    if result.aborted is not None:
        interrupted = result.aborted.startswith("interrupted")
        return EXIT_INTERRUPTED if interrupted else EXIT_FATAL
    return EXIT_OK if result.ok else EXIT_FOUND


def format_verification(result: Verification, path: Path, shown: int = 20) -> str:
    """The text ``verify`` prints on stderr."""
    found = len(result.discrepancies)
    head = "bulkdel verify: " + (
        "OK: every check holds"
        if result.ok
        else f"{found:,} DISCREPANCIES" + (f", {len(result.unchecked):,} unchecked")
    )
    if result.aborted:
        head += f" — aborted: {result.aborted}"
    d, f = result.deleted, result.failed
    lines = [head]
    if d:
        lines.append(f"  deleted    {d['confidence']}")
    if f:
        lines.append(
            f"  failed     {f['reported']:,} reported, {f['checked']:,} checked, {f['gone']:,} gone"
        )
    s = result.selection
    if s is not None:
        if s.get("checked"):
            lines.append(
                f"  selection  listed again: {s['found']:,} files, "
                f"{s['should_have_been_deleted']:,} the run should have deleted, "
                f"{s['created_after_run']:,} created after the run (not counted)"
            )
        else:
            lines.append(f"  selection  not listed again: {s['skipped']}")
    lines.extend(
        f"  {item['kind']:<19} {item['fileId']}  {item['detail']}"
        for item in result.discrepancies[:shown]
    )
    lines.extend(
        f"  unchecked ({item['check']}) {item['fileId']}  {item['error']}"
        for item in result.unchecked[:shown]
    )
    hidden = max(0, found - shown) + max(0, len(result.unchecked) - shown)
    if hidden:
        lines.append(f"  ... and {hidden:,} more in {path}")
    lines.append(f"  verify.json: {path}")
    return "\n".join(lines)
