"""The ``bulkdel`` command: options in, exit code out; errors as one line, never a traceback."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from .._engine.pager import Listing, StandaloneHost
from .._engine.sources import FileReader, open_files
from .._journal.rebuild import report_from_journal
from ..deleter import BulkDeleter
from ..errors import BulkdelError, ListingError, UsageError
from ..imagekit import DEFAULT_BASE_URL, ListingClient, check_base_url
from ..models import Abort, AbortReason, Settings
from ..report import Report, format_text
from ..selection import Selection
from ..testing import cli as fake_cli
from .progress import ProgressDisplay

EXIT_OK, EXIT_INCOMPLETE, EXIT_USAGE, EXIT_FATAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: unique ids above which a terminal user is asked to confirm
CONFIRM_ABOVE = 1000


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one line, as SPEC's usage errors do."""

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"bulkdel: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"must be 1..100, got {value}")
    return value


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``bulkdel delete`` (names are SPEC's contract)."""
    parser.add_argument("sources", nargs="*", metavar="SOURCE", help="files of ids; - is stdin")
    parser.add_argument("--format", choices=["auto", "lines", "csv", "jsonl"], default="auto")
    parser.add_argument("--column", default="fileId", help="id field in csv/jsonl")
    parser.add_argument(
        "--base-url", default=None, help="default $IMAGE_KIT_BASE_URL, else " + DEFAULT_BASE_URL
    )
    parser.add_argument(
        "--private-key-file", type=Path, help="file holding the key (else $IMAGEKIT_PRIVATE_KEY)"
    )
    parser.add_argument("--batch-size", type=_batch_size, default=100)
    parser.add_argument("--concurrency", type=_positive_int, default=8)
    parser.add_argument(
        "--rate", type=_positive_float, help="most requests per second (bursts of R/10 at most)"
    )
    parser.add_argument("--max-attempts", type=_positive_int, default=6)
    parser.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds")
    parser.add_argument("--report-dir", type=Path)
    parser.add_argument("--journal", type=Path, help="durable progress; resume with the same")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--max-delete", type=int, metavar="N")
    parser.add_argument("--json", action="store_true", help="print summary.json on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--yes", action="store_true", help="no confirmation prompt")
    parser.add_argument("--allow-insecure-http", action="store_true")
    add_selector_arguments(parser)


def add_selector_arguments(parser: argparse.ArgumentParser) -> None:
    """The listing selectors (SPEC's names), shared by ``delete`` and ``list``."""
    group = parser.add_argument_group(
        "select files through the listing API instead of reading ids (combined with AND)"
    )
    group.add_argument("--path", metavar="FOLDER", help="files in this folder, like /tmp/")
    group.add_argument("--recursive", action="store_true", help="and in its sub-folders")
    group.add_argument("--search-query", metavar="Q", help="ImageKit's search language")
    group.add_argument("--older-than", metavar="DURATION", help="created longer ago: 90d, 12h")
    group.add_argument("--created-before", metavar="DATE", help="ISO date or date-time (UTC)")
    group.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="carrying TAG (repeatable)"
    )


def selection_from_args(args: argparse.Namespace) -> Selection | None:
    """The selection the options describe, or None when no selector is given."""
    given = (
        args.path is not None
        or args.recursive
        or args.search_query is not None
        or args.older_than is not None
        or args.created_before is not None
        or bool(args.tag)
    )
    if not given:
        return None
    return Selection(
        path=args.path,
        recursive=args.recursive,
        search_query=args.search_query,
        older_than=args.older_than,
        created_before=args.created_before,
        tags=tuple(args.tag),
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(
        prog="bulkdel", description="Purge files in bulk from an ImageKit media library."
    )
    parser.add_argument("--version", action="version", version=f"bulkdel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    delete = commands.add_parser("delete", help="delete the ids read from files or stdin")
    add_delete_arguments(delete)
    listing = commands.add_parser("list", help="write the ids of the selected files, to review")
    add_list_arguments(listing)
    fake = commands.add_parser("fake-server", help="a local ImageKit-compatible server")
    fake_cli.add_arguments(fake)
    rebuild = commands.add_parser("report", help="rebuild a job's report from its journal")
    rebuild.add_argument("--journal", type=Path, required=True)
    rebuild.add_argument("--report-dir", type=Path)
    rebuild.add_argument("--json", action="store_true")
    demo = commands.add_parser("demo", help="the whole job against an in-process fake server")
    demo.add_argument("--ids", type=_positive_int, default=20_000)
    demo.add_argument("--report-dir", type=Path)
    demo.add_argument("--json", action="store_true")
    return parser


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``bulkdel list``."""
    add_selector_arguments(parser)
    parser.add_argument("--jsonl", action="store_true", help="name, path, size, createdAt too")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    parser.add_argument(
        "--base-url", default=None, help="default $IMAGE_KIT_BASE_URL, else " + DEFAULT_BASE_URL
    )
    parser.add_argument("--private-key-file", type=Path)
    parser.add_argument(
        "--rate", type=_positive_float, help="most requests per second (bursts of R/10 at most)"
    )
    parser.add_argument("--max-attempts", type=_positive_int, default=6)
    parser.add_argument("--timeout", type=_positive_float, default=30.0, help="seconds")
    parser.add_argument("--allow-insecure-http", action="store_true")


def read_private_key(key_file: Path | None) -> str:
    """The key from ``--private-key-file`` or ``$IMAGEKIT_PRIVATE_KEY``; UsageError if none."""
    if key_file is not None:
        try:
            key = key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read --private-key-file {key_file}: {exc.strerror}") from None
        if not key:
            raise UsageError(f"--private-key-file {key_file} is empty")
        return key
    key = os.environ.get("IMAGEKIT_PRIVATE_KEY", "").strip()
    if not key:
        raise UsageError("IMAGEKIT_PRIVATE_KEY is not set; export it or pass --private-key-file")
    return key


def default_report_dir() -> Path:
    """``./bulkdel-report-<UTC timestamp>``."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"bulkdel-report-{stamp}")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Settings from parsed options (and ``$IMAGE_KIT_BASE_URL``)."""
    base_url = args.base_url or os.environ.get("IMAGE_KIT_BASE_URL") or DEFAULT_BASE_URL
    check_base_url(base_url, allow_insecure_http=args.allow_insecure_http)
    if args.max_delete is not None and args.max_delete < 0:
        raise UsageError(f"--max-delete must be >= 0, got {args.max_delete}")
    if getattr(args, "sources", None) and selection_from_args(args) is not None:
        raise UsageError("give files of ids or listing selectors (--path, --tag, ...), not both")
    return Settings(
        base_url=base_url,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        rate=args.rate,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        dry_run=args.dry_run,
        max_delete=args.max_delete,
        allow_insecure_http=args.allow_insecure_http,
    )


def _names(readers: Sequence[FileReader]) -> str:
    return ", ".join(r.name for r in readers)


def _count_lines(readers: Sequence[FileReader]) -> int | None:
    """Lines in the sources: an upper bound of the ids, cheap next to deleting them. None
    when a source is not a regular file (stdin): there is no asking before it is read."""
    total = 0
    for reader in readers:
        if reader.size is None:
            return None
        with open(reader.name, "rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
    return total


def _confirm(readers: Sequence[FileReader], settings: Settings, what: str = "") -> bool:
    """Ask on the terminal before a large delete; True to go ahead."""
    what = what or f"the files listed in {_names(readers)}"
    print(
        f"bulkdel: about to delete {what} from {settings.base_url}. Type 'yes' to go on: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    try:
        answer = input()
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


async def run_delete(args: argparse.Namespace) -> int:
    """``bulkdel delete``: returns SPEC's exit code."""
    settings = settings_from_args(args)
    selection = selection_from_args(args)
    if selection is not None:
        return await _delete_selected(args, settings, selection)
    key = None if settings.dry_run else read_private_key(args.private_key_file)
    readers = open_files(args.sources or ["-"], args.format, args.column)
    interactive = sys.stdin.isatty() and sys.stderr.isatty()
    lines = _count_lines(readers) if interactive and not args.yes else None
    if (
        lines is not None
        and lines > CONFIRM_ABOVE
        and not settings.dry_run
        and not _confirm(readers, settings, f"up to {lines:,} files listed in {_names(readers)}")
    ):
        for reader in readers:
            reader.close()
        print("bulkdel: nothing deleted.", file=sys.stderr)
        return EXIT_USAGE
    report_dir = args.report_dir or default_report_dir()
    deleter = BulkDeleter(key, settings=settings, report_dir=report_dir, journal=args.journal)
    report = await _run_with_signals(deleter, readers, show_progress=not args.quiet)
    return _finish(report, args.json)


def _listing(key: str, settings: Settings, selection: Selection) -> Listing:
    client = ListingClient(
        key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        allow_insecure_http=settings.allow_insecure_http,
    )
    return Listing(client, selection)


async def _delete_selected(
    args: argparse.Namespace, settings: Settings, selection: Selection
) -> int:
    """``bulkdel delete`` with selectors: list and delete at once (the listing is the source;
    a dry run lists and counts files and bytes)."""
    key = read_private_key(args.private_key_file)
    listing = _listing(key, settings, selection)
    if (
        sys.stdin.isatty()
        and sys.stderr.isatty()
        and not args.yes
        and not settings.dry_run
        and not _confirm((), settings, f"every file selected by {selection.describe()}")
    ):
        await listing.close()
        print("bulkdel: nothing deleted.", file=sys.stderr)
        return EXIT_USAGE
    report_dir = args.report_dir or default_report_dir()
    deleter = BulkDeleter(
        None if settings.dry_run else key,
        settings=settings,
        report_dir=report_dir,
        journal=args.journal,
    )
    report = await _run_with_signals(deleter, (), show_progress=not args.quiet, listing=listing)
    print(
        f"bulkdel: listing: {listing.files:,} files, {listing.bytes:,} bytes in "
        f"{listing.pages:,} pages ({listing.requests:,} requests, {listing.retried:,} retried)"
        + (" would be deleted (dry run)" if settings.dry_run else ""),
        file=sys.stderr,
    )
    return _finish(report, args.json)


async def run_list(args: argparse.Namespace) -> int:
    """``bulkdel list``: the selected files' ids (or JSONL) on stdout or ``--output``."""
    base_url = args.base_url or os.environ.get("IMAGE_KIT_BASE_URL") or DEFAULT_BASE_URL
    check_base_url(base_url, allow_insecure_http=args.allow_insecure_http)
    selection = selection_from_args(args)
    if selection is None:
        raise UsageError(
            "select files with --path, --search-query, --older-than, --created-before or --tag"
        )
    settings = Settings(
        base_url=base_url,
        rate=args.rate,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        allow_insecure_http=args.allow_insecure_http,
    )
    listing = _listing(read_private_key(args.private_key_file), settings, selection)
    host = StandaloneHost(settings)
    out = sys.stdout if args.output is None else args.output.open("w", encoding="utf-8")
    try:
        async for entries in listing.entries(host):
            lines = []
            for entry in entries:
                listing.files += 1
                size = entry.get("size")
                listing.bytes += size if isinstance(size, int) else 0
                if args.jsonl:
                    lines.append(json.dumps(summary_line(entry)) + "\n")
                elif isinstance(entry.get("fileId"), str):
                    lines.append(entry["fileId"] + "\n")
            out.write("".join(lines))
    except ListingError as exc:
        print(f"bulkdel: error: listing: {exc}", file=sys.stderr)
        return EXIT_FATAL if exc.fatal else EXIT_INCOMPLETE
    finally:
        await listing.close()
        if out is not sys.stdout:
            out.close()
        else:
            out.flush()
    print(
        f"bulkdel: {listing.files:,} files, {listing.bytes:,} bytes "
        f"({listing.pages:,} pages, {listing.requests:,} requests)",
        file=sys.stderr,
    )
    return EXIT_OK


async def _run_with_signals(
    deleter: BulkDeleter,
    readers: Sequence[FileReader],
    *,
    show_progress: bool,
    listing: Listing | None = None,
) -> Report:
    """Run the job; the first SIGINT/SIGTERM stops gracefully, the second at once."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            print(
                "\nbulkdel: stopping: letting requests in flight settle "
                "(signal again to stop at once)",
                file=sys.stderr,
            )
            deleter.stop(Abort(AbortReason.INTERRUPTED, signal.Signals(signum).name))
        elif task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    progress = ProgressDisplay(deleter, readers) if show_progress and sys.stderr.isatty() else None
    try:
        if progress is not None:
            progress.start()
        try:
            return await deleter.run(files=readers, listing=listing)
        except asyncio.CancelledError:
            if signals_seen < 2:
                raise
            report = deleter.last_report
            assert report is not None
            return report
    finally:
        if progress is not None:
            await progress.stop()
        for sig in installed:
            loop.remove_signal_handler(sig)


def _finish(report: Report, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(format_text(report), file=sys.stderr)
    return report.exit_code


async def run_demo(args: argparse.Namespace) -> int:
    """``bulkdel demo``: a realistic job against an in-process fake server."""
    from .demo import demo

    report = await demo(args.ids, args.report_dir or default_report_dir())
    return _finish(report, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "fake-server":
            asyncio.run(fake_cli.serve(args))
            return EXIT_OK
        if args.command == "demo":
            return asyncio.run(run_demo(args))
        if args.command == "list":
            return asyncio.run(run_list(args))
        if args.command == "report":
            report = report_from_journal(args.journal, args.report_dir or default_report_dir())
            return _finish(report, args.json)
        return asyncio.run(run_delete(args))
    except UsageError as exc:
        print(f"bulkdel: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BulkdelError as exc:
        print(f"bulkdel: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:
        print("bulkdel: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def summary_line(entry: dict[str, Any]) -> dict[str, Any]:
    """The JSONL record ``bulkdel list --jsonl`` writes for one file."""
    return {
        "fileId": entry.get("fileId"),
        "name": entry.get("name"),
        "path": entry.get("filePath"),
        "size": entry.get("size"),
        "createdAt": entry.get("createdAt"),
    }
