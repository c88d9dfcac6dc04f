"""The suite's own shape: test modules and their helpers keep the package's module limit, a
room's tests live in the room's folder, and only the whole-package tests stay at the top
(the ones ``tests/README.md`` names)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_layout import MAX_MODULE

TESTS = Path(__file__).resolve().parent


def test_no_test_module_is_over_the_module_limit() -> None:
    """No module under ``tests/`` (tests, helpers, conftest alike) over 400 lines."""
    over = []
    for path in sorted(TESTS.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines > MAX_MODULE:
            over.append(f"{path.relative_to(TESTS.parent).as_posix()}: {lines} lines")
    assert over == []


def test_only_the_whole_package_tests_sit_at_the_top() -> None:
    """A test module at the top of ``tests/`` is one the README names as a whole-package
    test; any other belongs in the folder of the room it tests."""
    named = set(re.findall(r"`(test_\w+\.py)`", (TESTS / "README.md").read_text("utf-8")))
    at_the_top = {path.name for path in TESTS.glob("test_*.py")}
    assert at_the_top - named == set()


def test_every_folder_of_tests_is_a_package() -> None:
    """Each folder holding test modules has an ``__init__.py``: two rooms may then have test
    modules of the same name (``tests.a.test_x``, ``tests.b.test_x``)."""
    folders = {path.parent for path in TESTS.rglob("test_*.py")}
    assert sorted(str(f) for f in folders if not (f / "__init__.py").exists()) == []
