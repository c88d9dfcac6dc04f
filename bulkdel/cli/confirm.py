"""The confirmation gate: a terminal user is asked before a large delete."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from ..engine.sources import FileReader
from ..models import Settings

#: lines of input above which a terminal user is asked to confirm a delete of files of ids
CONFIRM_ABOVE = 1000


class Declined(Exception):
    """The user did not confirm: nothing was sent (the CLI exits 2)."""


def confirm(settings: Settings, *, yes: bool, target: Callable[[], str | None]) -> None:
    """Ask on the terminal before deleting, unless told not to or nothing will be sent.

    Args:
        settings: the job's settings (a dry run is never asked about).
        yes: ``--yes``: never ask.
        target: describes what would be deleted, or None when it is too little to ask
            about; called only when there is a terminal to ask on.

    Raises:
        Declined: the user answered anything but yes, or closed the input.
    """
    if yes or settings.dry_run or not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    what = target()
    if what is None:
        return
    print(
        f"bulkdel: about to delete {what} from {settings.base_url}. Type 'yes' to go on: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    try:
        answer = input()
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        raise Declined


def files_target(readers: Sequence[FileReader]) -> str | None:
    """``up to N files listed in ...`` when the sources hold more than ``CONFIRM_ABOVE``
    lines; None for fewer, or when a source is not a regular file (stdin cannot be counted
    before it is read)."""
    lines = _count_lines(readers)
    if lines is None or lines <= CONFIRM_ABOVE:
        return None
    return f"up to {lines:,} files listed in {', '.join(r.name for r in readers)}"


def _count_lines(readers: Sequence[FileReader]) -> int | None:
    """Lines in the sources: an upper bound of the ids, cheap next to deleting them."""
    total = 0
    for reader in readers:
        if reader.size is None:
            return None
        with open(reader.name, "rb") as handle:
            while block := handle.read(1 << 20):
                total += block.count(b"\n")
    return total
