"""The one boundary around every command: an error becomes one line and an exit code.

The library names its own parameters (``older_than takes ...``); ``FLAGS`` is the one table
that shows each as the option that sets it (``--older-than takes ...``). Every exception
type the command line expects has its exit code in ``ERROR_EXITS`` (the codes themselves are
``models.ExitCode``); anything else is a bug: ``bulkdel: internal error: ... (rerun with
--debug for the traceback)``, exit 1, never a traceback unless asked for.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Final

from ..errors import BulkdelError, ListingError, UsageError
from ..models import ExitCode
from .confirm import Declined

#: the library's parameter names, as the command line's options (docs/contract.md, "The CLI")
FLAGS: Final = {
    "base_url": "--base-url",
    "allow_insecure_http": "--allow-insecure-http",
    "batch_size": "--batch-size",
    "concurrency": "--concurrency",
    "rate": "--rate",
    "max_attempts": "--max-attempts",
    "timeout": "--timeout",
    "dry_run": "--dry-run",
    "max_delete": "--max-delete",
    "path": "--path",
    "recursive": "--recursive",
    "search_query": "--search-query",
    "older_than": "--older-than",
    "created_before": "--created-before",
    "tags": "--tag",
    "url_endpoint": "--url-endpoint",
    "purge_limit": "--purge-limit",
    # ``purge_plan``'s names: its limit and mode are ``--purge-limit`` and ``--mode`` of
    # ``bulkdel purge`` (``delete --purge-cache``'s refusals are worded in ``cli/purge.py``)
    "limit": "--purge-limit",
    "mode": "--mode",
    # ``name=``: the library's parameter with its value to give (``pass column=NAME``)
    "column=": "--column ",
    "sample": "--sample",
    "report_dir": "--report-dir",
    "record_dir": "--record-dir",
    "metrics_port": "--metrics-port",
    "journal": "--journal",
    "job": "--job",
    "max_open": "--max-open",
    "visibility_timeout": "--visibility-timeout",
}
#: a quoted value ('...' or "..."): a user's text, never rewritten
_QUOTED: Final = re.compile(r"""('[^']*'|"[^"]*")""")


def option_message(exc: UsageError) -> str:
    """``exc``'s message with each parameter it names shown as its option."""
    return as_options(str(exc), exc.parameters)


def as_options(text: str, parameters: Iterable[str]) -> str:
    """``text`` with each of ``parameters`` it names shown as its option (quoted values
    left alone)."""
    names = [name for name in parameters if name in FLAGS]
    if not names:
        return text
    # a name ends where a word would (``older_than``, not ``older_than_x``), or at its ``=``
    word = re.compile(
        r"(?<![\w./-])(" + "|".join(map(re.escape, names)) + r")(?:(?<==)|(?![\w/-]))"
    )
    pieces = _QUOTED.split(text)
    # odd pieces are the quoted values the split kept
    return "".join(
        piece if n % 2 else word.sub(lambda m: FLAGS[m[1]], piece) for n, piece in enumerate(pieces)
    )


def _usage(exc: BaseException) -> str:
    assert isinstance(exc, UsageError)
    return f"bulkdel: error: {option_message(exc)}"


def _listing(exc: BaseException) -> str:
    return f"bulkdel: error: listing: {exc}"


def _listing_code(exc: BaseException) -> ExitCode:
    assert isinstance(exc, ListingError)
    return ExitCode.FATAL if exc.fatal else ExitCode.INCOMPLETE


#: how each expected exception ends the command: its line on stderr and its exit code, most
#: specific first (docs/contract.md, "Exit codes")
ERROR_EXITS: Final[
    tuple[tuple[type[BaseException], Callable[[BaseException], str], ExitCode | None], ...]
] = (
    (Declined, lambda _: "bulkdel: nothing deleted.", ExitCode.USAGE),
    (UsageError, _usage, ExitCode.USAGE),
    (ListingError, _listing, None),  # None: fatal or not, ``_listing_code`` says
    (BulkdelError, lambda exc: f"bulkdel: error: {exc}", ExitCode.FATAL),
    (KeyboardInterrupt, lambda _: "bulkdel: interrupted", ExitCode.INTERRUPTED),
)


def _leaf(exc: BaseException) -> BaseException:
    """The one exception inside task-group wrappers, or ``exc`` when there are several."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def guarded(command: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``command``; an error is one line on stderr and its exit code.

    Args:
        command: runs the command and returns its exit code.
        debug: ``--debug``: an unexpected error also prints its traceback.
    """
    try:
        return command()
    except (Exception, KeyboardInterrupt) as raised:
        exc = _leaf(raised)
        for kind, line, code in ERROR_EXITS:
            if isinstance(exc, kind):
                print(line(exc), file=sys.stderr)
                return int(code if code is not None else _listing_code(exc))
        if debug:
            traceback.print_exception(raised)
        hint = "" if debug else " (rerun with --debug for the traceback)"
        print(f"bulkdel: internal error: {type(exc).__name__}: {exc}{hint}"[:2000], file=sys.stderr)
        return int(ExitCode.INCOMPLETE)
