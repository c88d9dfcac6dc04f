"""The command line's parsers: one parent parser holds what ``delete`` and ``list`` share.

Option names are the contract (docs/contract.md, "The CLI"); defaults come from ``Settings``'s
field defaults, so they are written in one place.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any, NoReturn

from ..core.redis_connection import DEFAULT_WAIT, REDIS_ENV, check_url
from ..errors import UsageError
from ..imagekit import DEFAULT_BASE_URL
from ..models import (
    DEFAULT_PURGE_LIMIT,
    MAX_ATTEMPTS,
    MAX_BATCH,
    MAX_CONCURRENCY,
    MAX_RATE,
    MAX_TIMEOUT,
    Settings,
)
from .values import number, path_problem, whole

AGE_HELP = (
    "created longer ago than AGE: a whole number and s, min, h, d, w, mo (calendar months) "
    "or y, like 90d or 6mo, at most 1000 years; a bare m is refused (months to ImageKit, "
    "minutes elsewhere)"
)
TAG_HELP = (
    "carrying TAG (repeatable: all of them); ImageKit matches it against the file's tags "
    "and its AI-generated AITags"
)
#: the library's defaults, shown in --help and used when an option is not given
DEFAULTS = Settings()
#: the option types of ``Settings``'s numbers, with its bounds
positive_int = whole(1)
batch_size = whole(1, MAX_BATCH)
concurrency = whole(1, MAX_CONCURRENCY)
attempts = whole(1, MAX_ATTEMPTS)
rate = number(0.0, MAX_RATE)
seconds = number(0.0, MAX_TIMEOUT)

#: argparse's own messages, in the one wording of option errors: ``--opt must be ...``
_REWORDED = (
    (
        re.compile(r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)"),
        "{0} must be one of {2}, got {1}",
    ),
    (re.compile(r"argument (\S+): expected one argument"), "{0} needs a value"),
    (re.compile(r"argument (\S+): ignored explicit argument (.*)"), "{0} takes no value, got {1}"),
    (re.compile(r"argument (\S+): (.*)"), "{0} {1}"),
)


class HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default after its help, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, [], argparse.SUPPRESS)
        if not shown or "default" in text or not action.option_strings:
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse whose errors are ``UsageError``s worded as the library's (``--timeout must
    be ...``): the exit code is decided in ``main``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def _get_values(self, action: argparse.Action, arg_strings: list[str]) -> Any:
        # argparse drops a "--" from an option's values as the end-of-options marker, so
        # that --opt=-- gave [] and the option's type check never ran (--base-url=-- fell
        # back to the real API, --path=-- to stdin). An empty value (an unset shell
        # variable) read as "not given" the same way. No option takes either.
        if action.option_strings:
            for value in arg_strings:
                if value == "--" or not value.strip():
                    raise UsageError(f"{_name(action)} needs a value, got {value!r}")
        values = super()._get_values(action, arg_strings)
        for value in values if isinstance(values, list) else [values]:
            problem = path_problem(value) if isinstance(value, Path) else None
            if problem is not None:
                raise UsageError(f"{_name(action)} {problem}")
        return values

    def error(self, message: str) -> NoReturn:
        for pattern, wording in _REWORDED:
            match = pattern.fullmatch(message)
            if match is not None:
                message = wording.format(*match.groups())
                break
        raise UsageError(message)


def _name(action: argparse.Action) -> str:
    """How a message names an option (its long form) or a positional argument."""
    if action.option_strings:
        return max(action.option_strings, key=len)
    return str(action.metavar or action.dest)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    """``--debug``: an internal error prints its traceback too (read by ``main`` itself, so
    that it works for an error anywhere)."""
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="on an internal error, print the traceback too",
    )


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
    """The options ``delete``, ``list`` and ``job submit`` share: where and how to reach the
    API, and the listing selectors."""
    parent = Parser(add_help=False)
    add_connection_arguments(parent)
    parent.add_argument(
        "--rate",
        type=rate,
        help="this job's cap in requests per second, within the account's budget "
        "(default: no cap, the account's pace adapts to the server's 429s)",
    )
    add_attempt_arguments(parent)
    add_selector_arguments(parent)
    add_preflight_argument(parent)
    add_debug_argument(parent)
    return parent


def add_attempt_arguments(parser: argparse.ArgumentParser) -> None:
    """How long a request may take and how often an id is tried: every command that sends."""
    parser.add_argument(
        "--max-attempts",
        metavar="N",
        type=attempts,
        default=DEFAULTS.max_attempts,
        help=f"attempts per id, counting the first, 1..{MAX_ATTEMPTS}",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=seconds,
        default=DEFAULTS.timeout,
        help=f"seconds a request may take, at most {MAX_TIMEOUT:g}",
    )


def add_concurrency_argument(parser: argparse.ArgumentParser) -> None:
    """Requests in flight: ``delete``'s and ``job worker``'s."""
    parser.add_argument(
        "--concurrency",
        metavar="N",
        type=concurrency,
        default=DEFAULTS.concurrency,
        help=f"requests in flight, 1..{MAX_CONCURRENCY}",
    )


#: where ``--base-url`` falls back to, unless a command says otherwise
BASE_URL_FALLBACK = f"$IMAGE_KIT_BASE_URL or $IMAGEKIT_BASE_URL, else {DEFAULT_BASE_URL}"


def add_connection_arguments(
    parser: argparse.ArgumentParser, *, base_url_default: str = BASE_URL_FALLBACK
) -> None:
    """Where the API is and the key to it: every command that sends (``options.
    ConnectionOptions``); ``base_url_default`` says where ``--base-url`` falls back to."""
    parser.add_argument(
        "--base-url",
        metavar="URL",
        default=None,
        help="the API root, like http://127.0.0.1:8787 for `bulkdel fake-server` "
        f"(default {base_url_default})",
    )
    parser.add_argument(
        "--private-key-file",
        metavar="PATH",
        type=Path,
        help="file holding the private key (default $IMAGEKIT_PRIVATE_KEY; never an option value)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="send the key over plain http to a host that is not loopback (refused otherwise)",
    )


def add_selector_arguments(parent: argparse.ArgumentParser) -> None:
    """The listing selectors (docs/contract.md, "Selectors")."""
    group = parent.add_argument_group(
        "select files through the listing API instead of reading ids (combined with AND)"
    )
    group.add_argument("--path", metavar="FOLDER", help="files in this folder, like /tmp/")
    group.add_argument(
        "--recursive", action="store_true", help="and in its sub-folders (needs --path)"
    )
    group.add_argument("--search-query", metavar="Q", help="ImageKit's search language")
    group.add_argument("--older-than", metavar="AGE", help=AGE_HELP)
    group.add_argument(
        "--created-before",
        metavar="DATE",
        help="created before DATE, an ISO date or date-time (no zone: UTC)",
    )
    group.add_argument("--tag", action="append", default=[], metavar="TAG", help=TAG_HELP)


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
        help="--purge-cache=files refuses to start above N files",
    )
    group.add_argument(
        "--url-endpoint",
        metavar="URL",
        help="your URL endpoint, like https://ik.imagekit.io/your_id "
        "(default $IMAGEKIT_URL_ENDPOINT)",
    )


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The files of ids and how to read them: ``delete``'s and ``job submit``'s."""
    parser.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="files of ids, one a line ('#' comments and blank lines skipped), CSV or JSONL; "
        "- is stdin (the default without selectors)",
    )
    parser.add_argument(
        "--format",
        choices=["auto", "lines", "csv", "jsonl"],
        default="auto",
        help="how SOURCE is read: auto picks by extension (.csv; .jsonl/.ndjson; else lines)",
    )
    parser.add_argument(
        "--column",
        metavar="NAME",
        default="fileId",
        help="the id field in csv (with a header row) or jsonl",
    )
    parser.add_argument(
        "--batch-size",
        metavar="N",
        type=batch_size,
        default=DEFAULTS.batch_size,
        help=f"ids a request, 1..{MAX_BATCH}",
    )
    add_gate_arguments(parser)


def add_gate_arguments(parser: argparse.ArgumentParser) -> None:
    """The safety gates before anything is deleted: ``delete``'s and ``job submit``'s."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="read, validate, de-duplicate (or list) and report what would be deleted; send "
        "nothing (no key needed when reading files)",
    )
    parser.add_argument(
        "--max-delete",
        type=whole(0),
        metavar="N",
        help="refuse to start when the input holds more than N unique ids (exit 2, nothing "
        "sent; default: no limit)",
    )
    parser.add_argument("--yes", action="store_true", help="no confirmation prompt on a terminal")


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    """``delete``'s own options."""
    add_purge_arguments(parser)
    add_source_arguments(parser)
    add_concurrency_argument(parser)
    parser.add_argument(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="where the report goes (default ./bulkdel-report-<UTC timestamp>)",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        type=Path,
        help="durable progress in this file: running the same command again with the same "
        "journal resumes the job and skips the ids already settled (default: none)",
    )
    parser.add_argument("--json", action="store_true", help="print summary.json on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress line on a terminal")
