"""``bulkdel demo``: the whole job against an in-process fake server with a realistic mix,
and its report checked against the server's ground truth."""

from __future__ import annotations

import json
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..engine.deleter import BulkDeleter
from ..engine.sources import open_files
from ..models import Settings
from ..record.report import Report
from ..testing import FakeImageKit, Faults
from .progress import ProgressDisplay

DEMO_KEY = "demo_private_key"


def write_demo_input(path: Path, count: int, seed: int = 7) -> list[str]:
    """A list of ``count`` ids with some repeats, bad lines and comments; returns the ids."""
    rng = random.Random(seed)
    ids = [f"{rng.getrandbits(96):024x}" for _ in range(count)]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("# ids to purge, exported from the CMS\n")
        for n, file_id in enumerate(ids):
            handle.write(file_id + "\n")
            if n % 500 == 0:
                handle.write(ids[rng.randrange(n + 1)] + "\n")  # a repeat
            if n % 2000 == 1:
                handle.write("not an id!\n")
    return ids


@dataclass
class Truth:
    """What the demo's fake server knows: the ids that existed, the ones locked for good,
    and the ones it deleted."""

    existing: frozenset[str]
    locked: frozenset[str]
    deleted: set[str] = field(default_factory=set)


def compare(report_dir: Path, truth: Truth) -> list[str]:
    """Where the report's lists disagree with the server's truth, one phrase each (none:
    every id is in the right bucket)."""

    def lines(name: str) -> set[str]:
        path = report_dir / name
        return set(path.read_text().split()) if path.exists() else set()

    deleted, missing = lines("deleted.txt"), lines("missing.txt")
    failed_path = report_dir / "failed.jsonl"
    failed = {json.loads(line)["fileId"] for line in failed_path.read_text().splitlines() if line}
    checks = [
        ("deleted.txt", deleted - truth.deleted, "the server did not delete"),
        ("deleted.txt", truth.deleted - deleted - missing, "deleted but not in the report"),
        ("missing.txt", missing & truth.existing - truth.deleted, "that existed"),
        ("the server", truth.existing - truth.locked - truth.deleted, "left undeleted"),
        ("failed.jsonl", failed ^ truth.locked, "not one of the locked files (or absent)"),
        ("not_attempted.txt", lines("not_attempted.txt"), "left unsent"),
    ]
    return [
        f"{name}: {len(ids):,} id{'s' if len(ids) != 1 else ''} {what}"
        for name, ids, what in checks
        if ids
    ]


async def demo(count: int, report_dir: Path, *, show_progress: bool = True) -> Report:
    """Run a demo job of ``count`` ids and return its report.

    Args:
        count: ids in the demo's input.
        report_dir: where the report goes.
        show_progress: draw the progress line, as ``delete`` does, when stderr is a terminal.
    """
    return (await demo_with_truth(count, report_dir, show_progress=show_progress))[0]


async def demo_with_truth(
    count: int, report_dir: Path, *, show_progress: bool = True
) -> tuple[Report, Truth]:
    """``demo``, and what its fake server knew at the end."""
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "ids.txt"
        ids = write_demo_input(source, count)
        existing = [i for i in ids if rng.random() > 0.05]  # 5% already gone
        locked = frozenset(rng.sample(existing, min(5, len(existing))))
        faults = Faults(
            seed=5,
            error_5xx=0.02,
            html_error=0.005,
            transient_207=0.002,
            permanent_errors=locked,
            throttle_burst=0.01,
            latency=0.005,
            latency_jitter=0.01,
        )
        async with FakeImageKit(DEMO_KEY, existing=existing, rate=200, faults=faults) as server:
            # A local server answers in milliseconds: backoff steps to match, so that the five
            # locked files' six attempts each (the job's last answers) do not hold the end.
            settings = Settings(base_url=server.url, backoff_base=0.01, backoff_max=0.25)
            deleter = BulkDeleter(DEMO_KEY, settings=settings, report_dir=report_dir)
            readers = open_files([str(source)])
            shown = show_progress and sys.stderr.isatty()
            progress = ProgressDisplay(deleter, readers) if shown else None
            if progress is not None:
                progress.start()
            try:
                report = await deleter.run(files=readers)
            finally:
                if progress is not None:
                    await progress.stop()
            return report, Truth(frozenset(existing), locked, set(server.deleted))


def check_line(report: Report, mismatches: list[str]) -> str:
    """The demo's last line: the report agrees with the server, or where it does not."""
    if mismatches:
        return "bulkdel demo: MISMATCH — " + "; ".join(mismatches)
    locked = report.counts.failed
    return (
        "bulkdel demo: every id checked against the fake server "
        f"({locked:,} locked file{'s' if locked != 1 else ''} failed)"
    )
