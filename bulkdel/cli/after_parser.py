"""The parsers of the commands on a finished run's report: ``verify`` and ``purge``.

Parsers only: the commands themselves (``cli/verify.py``, ``cli/purge.py``) are imported
when they run, so that building the parser never loads the verifier or the purge planner.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..models import DEFAULT_PURGE_LIMIT
from .args import (
    DEFAULTS,
    add_connection_arguments,
    add_redis_arguments,
    attempts,
    positive_int,
    rate,
    seconds,
)


def add_run_api_arguments(parser: argparse.ArgumentParser) -> None:
    """Where and how to reach the API (``verify`` and ``purge``): as ``delete``'s options,
    the run's base URL by default."""
    add_connection_arguments(
        parser,
        base_url_default="the run's, from summary.json; else $IMAGE_KIT_BASE_URL or ImageKit's",
    )
    parser.add_argument("--rate", type=rate, help="at most R requests per second")
    parser.add_argument(
        "--max-attempts", type=attempts, default=DEFAULTS.max_attempts, help="per request"
    )
    parser.add_argument(
        "--timeout", type=seconds, default=DEFAULTS.timeout, help="seconds a request"
    )
    add_redis_arguments(parser, "take turns from the account's budget kept in this Redis")


def add_verify_parser(commands: Any) -> None:
    """``bulkdel verify``'s options."""
    parser = commands.add_parser(
        "verify", help="check against the server that a report is true (writes verify.json)"
    )
    parser.add_argument("report_dir", type=Path, metavar="REPORT_DIR")
    parser.add_argument(
        "--sample",
        type=positive_int,
        metavar="N",
        help="check N ids reported deleted, drawn at random (default: all)",
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=8, help="requests in flight (default 8)"
    )
    parser.add_argument("--json", action="store_true", help="print verify.json on stdout")
    add_run_api_arguments(parser)


def add_purge_parser(commands: Any) -> None:
    """``bulkdel purge``'s options."""
    parser = commands.add_parser(
        "purge", help="purge ImageKit's CDN: a report's files, folders or URLs"
    )
    parser.add_argument("report_dir", type=Path, nargs="?", metavar="REPORT_DIR")
    parser.add_argument("--folder", action="append", default=[], help="purge FOLDER/* (repeatable)")
    parser.add_argument("--url", action="append", default=[], help="purge this URL (repeatable)")
    parser.add_argument(
        "--mode",
        choices=("folders", "files"),
        help="with REPORT_DIR: the selection's folder (default when the run had --path) or "
        "each deleted file's URL from manifest.jsonl",
    )
    parser.add_argument(
        "--purge-limit",
        type=positive_int,
        default=DEFAULT_PURGE_LIMIT,
        metavar="N",
        help=f"refuse to purge more than N files one by one (default {DEFAULT_PURGE_LIMIT})",
    )
    parser.add_argument(
        "--url-endpoint", metavar="URL", help="default $IMAGEKIT_URL_ENDPOINT (for folders)"
    )
    parser.add_argument(
        "--output-dir", type=Path, help="where purge.json goes (default: REPORT_DIR, else new)"
    )
    parser.add_argument("--json", action="store_true", help="print purge.json on stdout")
    add_run_api_arguments(parser)
