"""The ``bulkdel`` command: options in, exit code out; errors as one line, never a traceback.

Exit codes (docs/contract.md, "Exit codes"): a job's from its report (``Report.exit_code``,
from the typed abort reason), an error's here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..models import EXIT_CODES, Abort
from .boundary import as_options, guarded, option_message
from .exits import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from .metrics import serve_final_metrics
from .options import (
    CommandOptions,
    DeleteOptions,
    DemoOptions,
    ListOptions,
    PurgeOptions,
    ReportOptions,
    VerifyOptions,
    command_options,
)
from .parser import build_parser

if TYPE_CHECKING:
    from ..record.report import Report


def _abort_code(abort: Abort | None) -> int:
    code = EXIT_CODES[abort.reason] if abort is not None else None
    return EXIT_OK if code is None else code


#: the summary's widest line: it fits an 80-column terminal
SUMMARY_WIDTH = 79
#: the settings whose refusal a run's summary names (the reader's ``max_delete``)
REFUSING_SETTINGS = ("max_delete",)


def finish(report: Report, as_json: bool) -> int:
    """Print the summary (``summary.json`` on stdout with ``--json``, else text on stderr)
    and return the exit code."""
    from ..record.report import format_text

    if as_json:
        print(json.dumps(report.summary(), indent=2))
    else:
        # a refusal names the setting that refused (``max_delete``): shown as its option
        text = as_options(format_text(report), REFUSING_SETTINGS)
        print(_head_fitted(text), file=sys.stderr)
    return report.exit_code


def _head_fitted(text: str) -> str:
    """``text`` with its first line wrapped to an 80-column terminal (the rest of the
    summary is already narrower): a long refusal reads whole, not cut at the edge."""
    head, newline, rest = text.partition("\n")
    lines = textwrap.wrap(
        head, SUMMARY_WIDTH, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False
    )
    return "\n".join(lines or [head]) + newline + rest


# Each command's module is imported when it runs: ``--version``, ``--help`` and ``report``
# need no HTTP stack or engine, and no command loads another's.
def _dispatch(options: CommandOptions) -> int:
    if isinstance(options, DemoOptions):
        return _demo(options)
    if isinstance(options, ListOptions):
        from .listing import run_list

        return _abort_code(asyncio.run(run_list(options)))
    if isinstance(options, VerifyOptions):
        from .verify import run_verify

        return run_verify(options)
    if isinstance(options, PurgeOptions):
        from .purge import run_purge

        return run_purge(options)
    if isinstance(options, ReportOptions):
        return _report(options)
    if isinstance(options, DeleteOptions):
        return _delete(options)
    from .job.commands import run_job

    return run_job(options)


def _report(options: ReportOptions) -> int:
    from ..record.journal.rebuild import report_from_journal
    from .settings import report_dir_from

    report_dir = report_dir_from(options.report_dir, journal=options.journal)
    return finish(report_from_journal(options.journal, report_dir), options.json)


def _delete(options: DeleteOptions) -> int:
    from .delete import run_delete
    from .purge import print_note

    report = asyncio.run(run_delete(options))
    code = finish(report, options.json)
    print_note(report)
    return code


def _demo(options: DemoOptions) -> int:
    """``bulkdel demo``: exit 0 when its report agrees with the fake server's truth (the five
    locked files failed, as they must), else 1 with the mismatch named."""
    from .demo import check_line, compare, demo_with_truth
    from .settings import report_dir_from

    report_dir = report_dir_from(options.report_dir)
    report, truth = asyncio.run(demo_with_truth(options.ids, report_dir))
    finish(report, options.json)
    mismatches = compare(report_dir, truth)
    print(check_line(report, mismatches), file=sys.stderr)
    if report.abort is not None:  # interrupted: the signal's code
        return report.exit_code
    return EXIT_INCOMPLETE if mismatches else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (exits 2 at once on a bad option).

    Every error ends as one line and an exit code (``boundary.ERROR_EXITS``); anything
    unexpected as ``bulkdel: internal error: ...``, exit 1 (``--debug``: with the traceback).
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in arguments
    try:
        return guarded(lambda: _run(arguments), debug=debug)
    finally:
        serve_final_metrics()


def _run(arguments: list[str]) -> int:
    if arguments[:1] == ["fake-server"]:
        from .fake_server import fake_server_parser, serve

        asyncio.run(serve(_parse(fake_server_parser(), arguments[1:])))
        return EXIT_OK
    parsed = _parse(build_parser(), arguments)
    # the invocation goes to summary.json's audit (secrets removed there)
    return _dispatch(command_options(parsed, ["bulkdel", *arguments]))


def _parse(parser: argparse.ArgumentParser, arguments: list[str]) -> argparse.Namespace:
    """Parsed options; a bad one exits 2 at once with one line."""
    try:
        return parser.parse_args(arguments)
    except UsageError as exc:
        print(f"bulkdel: error: {option_message(exc)}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
