"""The ``bulkdel`` command: options in, exit code out."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from . import __version__
from .testing import cli as fake_cli


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = argparse.ArgumentParser(
        prog="bulkdel", description="Purge files in bulk from an ImageKit media library."
    )
    parser.add_argument("--version", action="version", version=f"bulkdel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    fake = commands.add_parser("fake-server", help="a local ImageKit-compatible server")
    fake_cli.add_arguments(fake)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "fake-server":
        asyncio.run(fake_cli.serve(args))
        return 0
    return 2
