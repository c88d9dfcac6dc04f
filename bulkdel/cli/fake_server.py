"""``bulkdel fake-server``: the one command that runs the fake server, imported only when
used (the fake server needs ``aiohttp.web``, which ``delete`` never loads)."""

from __future__ import annotations

import argparse

from .args import Parser


def fake_server_parser() -> argparse.ArgumentParser:
    """The fake server's options (``bulkdel.testing``'s own)."""
    from ..testing import cli as fake_cli

    parser = Parser(prog="bulkdel fake-server", description="a local ImageKit-compatible server")
    fake_cli.add_arguments(parser)
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGINT/SIGTERM."""
    from ..testing import cli as fake_cli

    await fake_cli.serve(args)
