"""The package's shape: a sorted public API that imports, size limits on every module, and
the import rules (no cycles, the base packages on public modules, engine and budget apart)."""

from __future__ import annotations

import ast
import re
import tokenize
import tomllib
from pathlib import Path

import bulkdel

PACKAGE = Path(bulkdel.__file__).parent
MAX_MODULE, MAX_CLASS, MAX_FUNCTION = 400, 250, 50
#: (path, name) pairs known to break the limits (name "*": anything in the path); none now,
#: and an entry added here must say why the part cannot be split
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset()


def test_the_types_public_functions_take_are_exported() -> None:
    """What ``BulkDeleter`` and friends take can be named from ``bulkdel`` itself."""
    for name in ("FileReader", "open_files", "Listing", "Selection", "ListingClient"):
        assert name in bulkdel.__all__
    for name in ("Abort", "AbortReason", "Stopped", "RequestStats"):
        assert name in bulkdel.__all__
    # test seams (``sender=``, ``clock=``) are named from their modules, not from ``bulkdel``
    from bulkdel.core import Clock
    from bulkdel.engine.runner import BatchSender

    assert BatchSender and Clock


def violations(root: Path) -> list[tuple[str, str, str]]:
    """Every module, class and function under ``root`` that is over its size limit, as
    (path, name, message); a module's name is ``<module>``."""
    found: list[tuple[str, str, str]] = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root.parent).as_posix()
        lines = text.count("\n")
        if lines > MAX_MODULE:
            found.append((name, "<module>", f"{name}: module of {lines} lines (> {MAX_MODULE})"))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                size = node.end_lineno - node.lineno + 1
                limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION
                if size > limit:
                    message = f"{name}:{node.lineno}: {node.name} of {size} lines (> {limit})"
                    found.append((name, node.name, message))
    return found


def test_no_module_class_or_function_is_over_its_limit() -> None:
    """No module over 400 lines, no class over 250, no function over 50 (known exceptions
    aside, listed above with who is fixing them)."""
    found = [
        message
        for path, name, message in violations(PACKAGE)
        if (path, "*") not in KNOWN_EXCEPTIONS and (path, name) not in KNOWN_EXCEPTIONS
    ]
    assert found == []


def test_the_size_check_finds_what_is_too_long(tmp_path: Path) -> None:
    """The checker itself: a long function, class and module are each reported."""
    package = tmp_path / "pkg"
    package.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION))
    (package / "small.py").write_text(f"def f():\n{body}\n")
    (package / "big.py").write_text("\n" * (MAX_MODULE + 1))
    methods = "\n".join(f"    def m{i}(self):\n        return {i}\n" for i in range(90))
    (package / "klass.py").write_text(f"class C:\n{methods}")
    found = [message for _, _, message in violations(package)]
    assert any("small.py:1: f of 51 lines" in v for v in found)
    assert any("big.py: module of 401 lines" in v for v in found)
    assert any("klass.py:1: C of" in v for v in found)


# -- the import rules ----------------------------------------------------------------------

#: public packages that are the base the rest stands on: they import nothing underscored
BASE_PACKAGES = ("bulkdel.core", "bulkdel.budget", "bulkdel.imagekit", "bulkdel.testing")


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``bulkdel.budget.memory`` for ``.../bulkdel/budget/memory.py`` (packages: their name)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _only_for_type_checking(tree: ast.AST) -> set[int]:
    """The nodes inside ``if TYPE_CHECKING:`` blocks: no import at run time."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for sub in node.body for inner in ast.walk(sub))
    return skipped


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    prefix = node.module or ""
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join([*base, *([node.module] if node.module else [])])
    submodules = [f"{prefix}.{alias.name}" for alias in node.names]
    # ``from . import redisio`` depends on the submodule, not on the package's __init__
    return submodules if node.module is None else [prefix, *submodules]


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports at run time, lazy imports inside
    functions included (they are dependencies too), ``TYPE_CHECKING`` imports left out."""
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _only_for_type_checking(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and id(node) not in skipped:
                found = _targets(node, name, path.name == "__init__.py")
                graph[name].update(t for t in found if t in modules and t != name)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_cycle_outside_testing() -> None:
    """No two modules import each other, directly or round a loop (the fakes aside)."""
    cycles = [c for c in import_cycles(import_graph()) if not _inside(c[0], "bulkdel.testing")]
    assert cycles == []


def test_base_packages_import_nothing_underscored() -> None:
    """``core``, ``budget``, ``imagekit`` and ``testing`` stand on public modules only."""
    bad = {
        (module, target)
        for module, targets in import_graph().items()
        for target in targets
        if any(_inside(module, base) for base in BASE_PACKAGES)
        and any(part.startswith("_") and part != "__init__" for part in target.split("."))
    }
    assert bad == set()


def test_the_engine_and_the_budget_do_not_depend_on_each_other() -> None:
    """Both take the neutral base (``bulkdel.core``), not each other."""
    graph = import_graph()
    crossing = {
        (module, target)
        for module, targets in graph.items()
        for target in targets
        for a, b in (("bulkdel.engine", "bulkdel.budget"), ("bulkdel.budget", "bulkdel.engine"))
        if _inside(module, a) and _inside(target, b)
    }
    assert crossing == set()
    for module in graph:
        if _inside(module, "bulkdel.core"):
            assert not {t for t in graph[module] if not _inside(t, "bulkdel.core")} - {
                "bulkdel.errors",
                "bulkdel.models",
            }, module


def test_the_import_checks_see_a_cycle_and_a_lazy_import(tmp_path: Path) -> None:
    """The checker itself: a loop through a function-level import is found; a
    TYPE_CHECKING import is not a dependency."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .a import x\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n"
    )
    graph = import_graph(package)
    assert import_cycles(graph) == [["pkg.a", "pkg.b"]]
    assert graph["pkg.c"] == set()


# -- one definition of each shared constant ------------------------------------------------


def _code_lines_with(path: Path, number: str) -> list[tuple[int, set[str]]]:
    """(line, names on that logical line) for each ``number`` token outside strings and
    comments."""
    found: list[tuple[int, set[str]]] = []
    names: set[str] = set()
    numbers: list[int] = []
    with path.open(encoding="utf-8") as source:
        for token in tokenize.generate_tokens(source.readline):
            if token.type == tokenize.NAME:
                names.add(token.string)
            elif token.type == tokenize.NUMBER and token.string == number:
                numbers.append(token.start[0])
            elif token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                found += [(line, names) for line in numbers]
                names, numbers = set(), []
    return found


def test_the_batch_cap_is_written_once() -> None:
    """The 100-ids limit is ``MAX_BATCH``: no other line of the package pairs a batch name
    with a literal 100 (the fake server states ImageKit's rule on its own, as ImageKit does)."""
    hits = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "testing" not in path.relative_to(PACKAGE).parts
        for line, names in _code_lines_with(path, "100")
        if any("batch" in name.lower() for name in names)
    ]
    assert hits == ["bulkdel/models.py:" + str(_line_of(PACKAGE / "models.py", "MAX_BATCH:"))]


def _line_of(path: Path, start: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.startswith(start))


def _string_constants(root: Path, value: str) -> list[str]:
    return [
        f"{path.relative_to(root.parent)}:{node.lineno}"
        for path in sorted(root.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value == value
    ]


def test_the_default_base_url_is_written_once() -> None:
    """``DEFAULT_BASE_URL`` is the one literal of ImageKit's API root."""
    assert _string_constants(PACKAGE, "https://api.imagekit.io") == [
        f"bulkdel/models.py:{_line_of(PACKAGE / 'models.py', 'DEFAULT_BASE_URL')}"
    ]


def test_the_version_is_written_once() -> None:
    """``bulkdel.__version__`` is the version; the build reads it from there."""
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    dynamic = project["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "bulkdel.__version__"}
    assert _string_constants(PACKAGE, bulkdel.__version__) == [
        f"bulkdel/__init__.py:{_line_of(PACKAGE / '__init__.py', '__version__')}"
    ]


def issue_references(root: Path) -> list[str]:
    """Every line of the package that names an issue by its number: the number says nothing
    to a reader without the tracker, and the reason it stands for belongs in the text."""
    pattern = re.compile(r"\bissues? ?#?\d+|\(#\d+\)", re.IGNORECASE)
    return [
        f"{path.relative_to(root.parent)}:{number}"
        for path in sorted(root.rglob("*"))
        if path.suffix in {".py", ".lua"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_no_issue_numbers_in_the_package() -> None:
    assert issue_references(PACKAGE) == []


def test_the_issue_check_finds_a_number(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text('"""Fixed in issue 18."""\n# see (#42)\nx = "tissue 5"\n')
    assert issue_references(package) == ["pkg/a.py:1", "pkg/a.py:2"]
