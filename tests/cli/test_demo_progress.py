"""``bulkdel demo`` draws the same progress line as ``delete`` when stderr is a terminal."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bulkdel.cli import progress as progress_module
from bulkdel.cli.demo import demo


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


async def test_the_demo_shows_progress_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The line (counts, ids/s) is drawn while the demo runs, and the report adds up."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress_module, "_REFRESH", 0.001)
    report = await demo(2000, tmp_path / "r")
    assert report.counts.unique == 2000
    drawn = terminal.getvalue()
    assert " done | " in drawn
    assert "ids/s" in drawn


async def test_no_progress_when_told_or_not_on_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``show_progress=False`` draws nothing, even on a terminal."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress_module, "_REFRESH", 0.001)
    await demo(300, tmp_path / "r", show_progress=False)
    assert terminal.getvalue() == ""
