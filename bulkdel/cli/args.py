"""The command line's parsers: one parent parser holds what ``delete`` and ``list`` share.

Option names are the contract (docs/contract.md, "The CLI"); defaults come from ``Settings``'s
field defaults, so they are written in one place.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from ..errors import UsageError
from ..imagekit import DEFAULT_BASE_URL
from ..models import DEFAULT_PURGE_LIMIT, Settings
from ..redis_connection import DEFAULT_WAIT, REDIS_ENV, check_url

AGE_HELP = (
    "created longer ago than AGE: a number and s, min, h, d, w, mo (calendar months) or y, "
    "like 90d or 6mo; a bare m is refused (months to ImageKit, minutes elsewhere)"
)
TAG_HELP = (
    "carrying TAG (repeatable: all of them); ImageKit matches it against the file's tags "
    "and its AI-generated AITags"
)
#: the library's defaults, shown in --help and used when an option is not given
DEFAULTS = Settings()


class Parser(argparse.ArgumentParser):
    """argparse whose errors are ``UsageError``s: the exit code is decided in ``main``."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def positive_int(text: str) -> int:
    """An int >= 1 (a nicer message than the library's for the same rule)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 1..100, got {value}")
    return value


#: longest --redis-wait, seconds (a week: a standing fleet may wait out a long repair)
MAX_REDIS_WAIT = 7 * 86400


def redis_url(text: str) -> str:
    """A Redis URL ``redis_connection`` accepts (the message never shows its password)."""
    try:
        check_url(text)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def redis_wait(text: str) -> float:
    """Seconds, 0..a week (0: a Redis outage ends the run at once)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_REDIS_WAIT:
        raise argparse.ArgumentTypeError(f"must be seconds, 0..{MAX_REDIS_WAIT}, got {text!r}")
    return value


def add_redis_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--redis URL`` and ``--redis-wait SECONDS``: the one definition, for ``delete``,
    ``list`` and every ``job`` command; ``what`` says what the Redis is for."""
    parser.add_argument(
        "--redis",
        metavar="URL",
        type=redis_url,
        default=None,
        help=f"{what}: redis://[:password@]host:6379/0, rediss:// (TLS) or "
        f"unix:///path/to.sock (default ${REDIS_ENV})",
    )
    parser.add_argument(
        "--redis-wait",
        metavar="SECONDS",
        type=redis_wait,
        default=DEFAULT_WAIT,
        help="how long a Redis outage during a run is waited out before the run ends, exit 3 "
        "(default %(default)g; at start an unreachable Redis exits 3 at once)",
    )


def shared_parent() -> Parser:
    """The options ``delete`` and ``list`` share: where and how to reach the API, and the
    listing selectors."""
    parent = Parser(add_help=False)
    parent.add_argument(
        "--base-url", default=None, help="default $IMAGE_KIT_BASE_URL, else " + DEFAULT_BASE_URL
    )
    parent.add_argument(
        "--private-key-file", type=Path, help="file holding the key (else $IMAGEKIT_PRIVATE_KEY)"
    )
    parent.add_argument(
        "--rate",
        type=_positive_float,
        help="this job's cap in requests per second, within the account's budget",
    )
    parent.add_argument(
        "--max-attempts",
        type=positive_int,
        default=DEFAULTS.max_attempts,
        help="per id, counting the first (default %(default)s)",
    )
    parent.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULTS.timeout,
        help="seconds a request (default %(default)s)",
    )
    parent.add_argument("--allow-insecure-http", action="store_true")
    group = parent.add_argument_group(
        "select files through the listing API instead of reading ids (combined with AND)"
    )
    group.add_argument("--path", metavar="FOLDER", help="files in this folder, like /tmp/")
    group.add_argument("--recursive", action="store_true", help="and in its sub-folders")
    group.add_argument("--search-query", metavar="Q", help="ImageKit's search language")
    group.add_argument("--older-than", metavar="AGE", help=AGE_HELP)
    group.add_argument("--created-before", metavar="DATE", help="ISO date or date-time (UTC)")
    group.add_argument("--tag", action="append", default=[], metavar="TAG", help=TAG_HELP)
    add_preflight_argument(parent)
    return parent


def add_preflight_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-preflight``, shared by ``delete`` and ``list``."""
    parser.add_argument(
        "--no-preflight",
        action="store_true",
        help="skip the first request (one listing page of one file) that checks the key, "
        "base URL and TLS before anything is read; for keys that may not list files",
    )


def add_purge_arguments(parser: argparse.ArgumentParser) -> None:
    """``delete``'s CDN options (their checks and the purge itself: ``cli/purge.py``)."""
    group = parser.add_argument_group(
        "CDN cache (deleting a file does not purge it; purges count against a monthly quota)"
    )
    group.add_argument(
        "--purge-cache",
        nargs="?",
        const="folders",
        choices=("folders", "files"),
        metavar="folders|files",
        help="after deleting, purge the CDN: one wildcard per --path folder (the default), "
        "or each deleted file's URL (files)",
    )
    group.add_argument(
        "--purge-limit",
        type=positive_int,
        default=DEFAULT_PURGE_LIMIT,
        metavar="N",
        help=f"--purge-cache=files refuses to start above N files (default {DEFAULT_PURGE_LIMIT})",
    )
    group.add_argument(
        "--url-endpoint",
        metavar="URL",
        help="your URL endpoint, like https://ik.imagekit.io/your_id "
        "(default $IMAGEKIT_URL_ENDPOINT)",
    )


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    add_purge_arguments(parser)
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="files of ids; - is stdin")
    parser.add_argument("--format", choices=["auto", "lines", "csv", "jsonl"], default="auto")
    parser.add_argument("--column", default="fileId", help="id field in csv/jsonl")
    parser.add_argument(
        "--batch-size",
        type=batch_size,
        default=DEFAULTS.batch_size,
        help="ids a request, 1..100 (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULTS.concurrency,
        help="requests in flight (default %(default)s)",
    )
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--journal", type=Path, help="durable progress; resume with the same")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--max-delete", type=int, metavar="N")
    parser.add_argument("--json", action="store_true", help="print summary.json on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--yes", action="store_true", help="no confirmation prompt")
