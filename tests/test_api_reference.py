"""The API reference builds from the docstrings with no warning (docs/api_reference.py)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

pytest.importorskip("pdoc", reason="the API reference needs bulkdel[docs]")

SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "api_reference.py"


def test_the_reference_builds_and_documents_the_public_api(tmp_path: Path) -> None:
    """Every public module gets a page; delete_batch and BatchOutcome are on bulkdel's."""
    namespace = runpy.run_path(str(SCRIPT))
    assert namespace["build"](tmp_path) == 0
    for module in namespace["PUBLIC"]:
        assert (tmp_path / (module.replace(".", "/") + ".html")).is_file(), module
    index = (tmp_path / "bulkdel.html").read_text(encoding="utf-8")
    assert "delete_batch" in index
    assert "BatchOutcome" in index
