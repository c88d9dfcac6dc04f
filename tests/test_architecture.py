"""The floor plan of ``ARCHITECTURE.md`` holds: every room of the package stands on it, and no
room imports a room on its own floor or above (``TYPE_CHECKING`` imports included: a type
names a room as surely as a call does)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.test_layout import PACKAGE, _targets, module_name

PLAN = PACKAGE.parent / "ARCHITECTURE.md"
#: the two rooms that share a floor and may name each other (see ARCHITECTURE.md)
WORDS = frozenset({"models", "errors"})


def floors(text: str) -> dict[str, int]:
    """Room -> its floor (0 is the top), from the fenced block after the floors marker."""
    block = re.search(r"<!-- floors:.*?-->\s*```\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no floor plan"
    plan: dict[str, int] = {}
    for number, line in enumerate(block.group(1).splitlines()):
        for room in line.split():
            assert room not in plan, f"{room} stands on two floors"
            plan[room] = number
    return plan


def room_of(module: str, root: Path = PACKAGE) -> str:
    """``bulkdel.engine.runner`` -> ``engine``; ``bulkdel.models`` -> ``models``; the package
    itself -> ``bulkdel`` (its face)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def room_imports(root: Path = PACKAGE) -> set[tuple[str, str, str]]:
    """(room, room it imports, the importing module) for every import between two rooms."""
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    found: set[tuple[str, str, str]] = set()
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, name, path.name == "__init__.py"):
                    if target in modules and room_of(target) != room_of(name):
                        found.add((room_of(name), room_of(target), name))
    return found


def breaches(plan: dict[str, int], imports: set[tuple[str, str, str]]) -> list[str]:
    return sorted(
        f"{module} ({a}, floor {plan[a]}) imports {b} (floor {plan[b]})"
        for a, b, module in imports
        if plan[b] <= plan[a] and not {a, b} <= WORDS
    )


def test_every_room_stands_on_the_plan() -> None:
    plan = floors(PLAN.read_text(encoding="utf-8"))
    rooms = {room_of(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert rooms - set(plan) == set(), "rooms missing from ARCHITECTURE.md's floor plan"
    assert set(plan) - rooms == set(), "the floor plan names rooms that do not exist"


def test_no_room_imports_its_own_floor_or_above() -> None:
    plan = floors(PLAN.read_text(encoding="utf-8"))
    assert breaches(plan, room_imports()) == []


def test_the_plan_check_finds_an_import_that_climbs(tmp_path: Path) -> None:
    """The checker itself: an import up a floor, or across one, is found; down is not."""
    package = tmp_path / "pkg"
    for room in ("top", "low", "side"):
        (package / room).mkdir(parents=True)
        (package / room / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "top" / "a.py").write_text("from ..low import b\n")
    (package / "low" / "b.py").write_text("def f():\n    from ..top.a import x\n")
    (package / "side" / "c.py").write_text("from ..low import b\n")
    plan = floors("<!-- floors: -->\n```\ntop\nlow side\n```\n")
    found = breaches(plan, room_imports(package))
    assert found == [
        "pkg.low.b (low, floor 1) imports top (floor 0)",
        "pkg.side.c (side, floor 1) imports low (floor 1)",
    ]
