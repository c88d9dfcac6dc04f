"""The whole command line's parser: ``delete``, ``list``, ``report``, ``demo``, ``job ...``.

The options themselves are defined in ``args`` (shared ones), ``job.parser`` (``job``'s) and
``after_parser`` (``verify``'s and ``purge``'s). Building the parser imports no command's
module: each is imported when its command runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import __version__
from .after_parser import add_purge_parser, add_verify_parser
from .args import (
    Parser,
    add_debug_argument,
    add_delete_arguments,
    add_redis_arguments,
    shared_parent,
)
from .job.parser import add_job_parser
from .metrics import add_metrics_arguments
from .values import whole

#: most ids ``bulkdel demo`` writes (they are held in memory, with the fake server's)
MAX_DEMO_IDS = 1_000_000


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (``fake-server``'s own options are parsed by its module, so
    that the fake server is imported only when it is used)."""
    parser = Parser(
        prog="bulkdel", description="Purge files in bulk from an ImageKit media library."
    )
    parser.add_argument("--version", action="version", version=f"bulkdel {__version__}")
    add_debug_argument(parser)
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
    listing.add_argument(
        "--jsonl", action="store_true", help="one JSON record a file: name, path, size, createdAt"
    )
    listing.add_argument(
        "--output", "-o", metavar="PATH", type=Path, help="write here (default: stdout)"
    )
    for command in (delete, listing):  # not in shared_parent: `job submit` has its own
        add_redis_arguments(
            command,
            "share the account's budget with every process using this Redis, on any host "
            "(none: this process's own)",
        )
    commands.add_parser("fake-server", help="a local ImageKit-compatible server", add_help=False)
    _add_report_and_demo(commands)
    add_job_parser(commands, Parser)
    add_verify_parser(commands)
    add_purge_parser(commands)
    return parser


def _add_report_and_demo(commands: Any) -> None:
    """``bulkdel report`` and ``bulkdel demo``."""
    rebuild = commands.add_parser("report", help="rebuild a job's report from its journal")
    rebuild.add_argument(
        "--journal", metavar="PATH", type=Path, required=True, help="the job's journal"
    )
    rebuild.add_argument(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="where the report goes (default ./bulkdel-report-<UTC timestamp>)",
    )
    rebuild.add_argument("--json", action="store_true", help="print summary.json on stdout")
    demo = commands.add_parser("demo", help="the whole job against an in-process fake server")
    demo.add_argument(
        "--ids",
        metavar="N",
        type=whole(1, MAX_DEMO_IDS),
        default=20_000,
        help=f"ids in the demo's input, 1..{MAX_DEMO_IDS:,}",
    )
    demo.add_argument(
        "--report-dir",
        metavar="DIR",
        type=Path,
        help="where the report goes (default ./bulkdel-report-<UTC timestamp>)",
    )
    demo.add_argument("--json", action="store_true", help="print summary.json on stdout")
    for command in (rebuild, demo):
        add_debug_argument(command)
