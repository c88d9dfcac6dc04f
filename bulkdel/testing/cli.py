"""``bulkdel fake-server``: run the fake ImageKit server from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from .fake_limits import LimitHeaders, RateWindow
from .fake_listing import URL_ENDPOINT, seed_files
from .fake_server import FakeImageKit, Faults


def _window(text: str) -> RateWindow:
    try:
        limit, seconds = text.split("/", 1)
        return RateWindow(int(limit), float(seconds))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--window takes LIMIT/SECONDS like 1000/15, got {text!r}"
        ) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"--burst takes a number >= 1, got {text!r}")
    return value


def _folder_count(text: str) -> tuple[str, int]:
    folder, _, count = text.rpartition("=")
    try:
        number = int(count)
    except ValueError:
        number = -1
    if not folder.startswith("/") or number < 0:
        raise argparse.ArgumentTypeError(
            f"--seed-folder takes /FOLDER/=N like /tmp/=5000, got {text!r}"
        )
    return folder, number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The fake server's options, shared by ``bulkdel fake-server``."""
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument(
        "--private-key",
        default=None,
        help="the one key accepted (default $IMAGEKIT_PRIVATE_KEY)",
    )
    parser.add_argument(
        "--existing",
        type=Path,
        help="file of existing ids, one a line; blank lines and # comments skipped "
        "(default: every well-formed id exists once)",
    )
    parser.add_argument(
        "--url-endpoint",
        default=URL_ENDPOINT,
        help="the files' URL endpoint; cache purges are accepted under it only",
    )
    parser.add_argument(
        "--seed-folder",
        type=_folder_count,
        action="append",
        default=[],
        metavar="/FOLDER/=N",
        help="N files in FOLDER for GET /v1/files (repeatable), created 1 ms apart",
    )
    parser.add_argument("--rate", type=float, help="requests per second before 429")
    parser.add_argument(
        "--burst", type=_positive, help="requests the --rate bucket holds (default: one second)"
    )
    parser.add_argument(
        "--window", type=_window, action="append", default=[], help="fixed window LIMIT/SECONDS"
    )
    parser.add_argument(
        "--limit-headers",
        type=LimitHeaders,
        choices=list(LimitHeaders),
        default=LimitHeaders.FULL,
        help="what a 429 says: ImageKit's X-RateLimit-* (full), only Retry-After, or none",
    )
    _add_fault_arguments(parser.add_argument_group("faults (probabilities 0..1)"))


def _add_fault_arguments(faults: argparse._ArgumentGroup) -> None:
    faults.add_argument("--seed", type=int, default=0)
    faults.add_argument("--error-5xx", type=float, default=0.0)
    faults.add_argument("--html-error", type=float, default=0.0)
    faults.add_argument("--drop-before", type=float, default=0.0)
    faults.add_argument("--drop-after", type=float, default=0.0)
    faults.add_argument("--slow-after", type=float, default=0.0)
    faults.add_argument("--slow-seconds", type=float, default=5.0)
    faults.add_argument("--latency", type=float, default=0.0, help="seconds added to answers")
    faults.add_argument("--latency-jitter", type=float, default=0.0)
    faults.add_argument("--transient-207", type=float, default=0.0, help="per id")
    faults.add_argument("--permanent-error", action="append", default=[], metavar="ID")
    faults.add_argument("--throttle-burst", type=float, default=0.0)
    faults.add_argument(
        "--other-traffic",
        type=float,
        default=0.0,
        help="share of requests refused as if other clients had just spent the limit",
    )


def server_from_args(args: argparse.Namespace) -> FakeImageKit:
    """Build the server an argument namespace describes."""
    key = args.private_key or os.environ.get("IMAGEKIT_PRIVATE_KEY") or "fake_private_key"
    existing = None
    if args.existing is not None:
        with args.existing.open(encoding="utf-8") as handle:
            # Blank lines and ``#`` comments are not ids: a file of ids may carry notes.
            lines = (line.split("#", 1)[0].strip() for line in handle)
            existing = [line for line in lines if line]
    faults = Faults(
        seed=args.seed,
        error_5xx=args.error_5xx,
        html_error=args.html_error,
        drop_before=args.drop_before,
        drop_after=args.drop_after,
        slow_after=args.slow_after,
        slow_seconds=args.slow_seconds,
        latency=args.latency,
        latency_jitter=args.latency_jitter,
        transient_207=args.transient_207,
        permanent_errors=frozenset(args.permanent_error),
        throttle_burst=args.throttle_burst,
        other_traffic=args.other_traffic,
    )
    files = seed_files(dict(args.seed_folder)) if args.seed_folder else ()
    return FakeImageKit(
        key,
        existing=existing,
        rate=args.rate,
        windows=args.window,
        faults=faults,
        files=files,
        limit_headers=args.limit_headers,
        url_endpoint=args.url_endpoint,
        burst=args.burst,
    )


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM."""
    server = server_from_args(args)
    url = await server.start(args.host, args.port)
    print(f"fake ImageKit listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print(f"fake ImageKit stopped: {server.stats.as_dict()}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bulkdel.testing``."""
    parser = argparse.ArgumentParser(prog="bulkdel fake-server", description=__doc__)
    add_arguments(parser)
    asyncio.run(serve(parser.parse_args(argv)))
    return 0
