"""The whole command line's parser: ``delete``, ``list``, ``report``, ``demo``, ``job ...``.

The options themselves are defined in ``args`` (shared ones) and ``job_parser`` (``job``'s).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__
from .args import Parser, add_delete_arguments, add_redis_arguments, positive_int, shared_parent
from .job_parser import add_job_parser
from .metrics import add_metrics_arguments


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (``fake-server``'s own options are parsed by its module, so
    that the fake server is imported only when it is used)."""
    parser = Parser(
        prog="bulkdel", description="Purge files in bulk from an ImageKit media library."
    )
    parser.add_argument("--version", action="version", version=f"bulkdel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    shared = shared_parent()
    delete = commands.add_parser(
        "delete", parents=[shared], help="delete the ids read from files or stdin"
    )
    add_delete_arguments(delete)
    add_metrics_arguments(delete)
    listing = commands.add_parser(
        "list", parents=[shared], help="write the ids of the selected files, to review"
    )
    listing.add_argument("--jsonl", action="store_true", help="name, path, size, createdAt too")
    listing.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    for command in (delete, listing):  # not in shared_parent: `job submit` has its own
        add_redis_arguments(
            command,
            "share the account's budget with every process using this Redis, on any host "
            "(none: this process's own)",
        )
    commands.add_parser("fake-server", help="a local ImageKit-compatible server", add_help=False)
    rebuild = commands.add_parser("report", help="rebuild a job's report from its journal")
    rebuild.add_argument("--journal", type=Path, required=True)
    rebuild.add_argument("--report-dir", type=Path)
    rebuild.add_argument("--json", action="store_true")
    demo = commands.add_parser("demo", help="the whole job against an in-process fake server")
    demo.add_argument("--ids", type=positive_int, default=20_000)
    demo.add_argument("--report-dir", type=Path)
    demo.add_argument("--json", action="store_true")
    add_job_parser(commands, Parser)
    from .purge import add_purge_parser  # the report's after-the-fact commands
    from .verify import add_verify_parser

    add_verify_parser(commands)
    add_purge_parser(commands)
    return parser
