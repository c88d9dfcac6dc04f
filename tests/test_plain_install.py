"""The plain install (no numpy, the ``large`` extra left out) gives the same report; numpy is
an extra, and the test extras install it, so that CI tests both de-duplications."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers import check_report_dir, write_ids

ROOT = Path(__file__).resolve().parent.parent
#: runs ``python -m bulkdel ARGS`` with numpy unimportable, as on a plain install, and says
#: on stderr whether numpy was loaded by the end; the hint is due past 100,000 ids here
PLAIN = """
import atexit, runpy, sys

class NoNumpy:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "numpy":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoNumpy())
import bulkdel.dedupe.plain_deduper
bulkdel.dedupe.plain_deduper.HINT_AT = 100_000
atexit.register(lambda: print("numpy loaded:", "numpy" in sys.modules, file=sys.stderr))
sys.argv[0] = "bulkdel"
runpy.run_module("bulkdel", run_name="__main__", alter_sys=True)
"""
WITH_NUMPY = PLAIN.replace("sys.meta_path.insert(0, NoNumpy())", "import numpy")
HINT = "pip install 'bulkdel[large]'"


def _ids() -> list[str]:
    """200,000 hex ids (more than the plain memtable holds: it spills and merges), other
    valid ids, invalid lines, and repeats of each kind, some only after the spill."""
    hexes = [f"{i * 0x9E3779B97F4A7C15 % (1 << 96):024x}" for i in range(200_000)]
    others = [f"file_{i:016d}" for i in range(500)]
    invalid = ["not valid!", "x", "A" * 80]
    return [*hexes[:1000], *others, *hexes[:10], *invalid, *hexes, *others[::3], *hexes[::97]]


def _dry_run(script: str, source: Path, report_dir: Path) -> tuple[str, dict[str, int]]:
    args = ["delete", str(source), "--dry-run", "--report-dir", str(report_dir), "--json"]
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts: dict[str, int] = check_report_dir(report_dir)["counts"]
    return result.stderr, counts


def test_a_plain_install_dry_run_gives_the_same_report(tmp_path: Path) -> None:
    """``bulkdel delete --dry-run`` with numpy unimportable: the same counts and the same
    lists, id for id, as with numpy; numpy was never loaded; past the threshold, stderr
    names the extra once (with numpy, never)."""
    source = write_ids(tmp_path / "ids.txt", _ids())
    plain_err, plain = _dry_run(PLAIN, source, tmp_path / "plain")
    numpy_err, with_numpy = _dry_run(WITH_NUMPY, source, tmp_path / "numpy")
    assert "numpy loaded: False" in plain_err
    assert "numpy loaded: True" in numpy_err
    assert plain_err.count(HINT) == 1, plain_err
    assert HINT not in numpy_err
    assert plain == with_numpy
    assert plain["duplicate"] == 1000 + 10 + 167 + len(range(0, 200_000, 97))
    lists = sorted(p.name for p in (tmp_path / "numpy").iterdir() if p.name != "summary.json")
    for name in lists:
        same = (tmp_path / "plain" / name).read_bytes() == (tmp_path / "numpy" / name).read_bytes()
        assert same, name


def test_numpy_is_an_extra_that_the_test_extras_install() -> None:
    """numpy is not in the plain dependencies; the ``large`` extra has it, and ``test``
    (what CI installs) takes ``large``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(dep.startswith("numpy") for dep in project["dependencies"])
    extras = project["optional-dependencies"]
    assert any(dep.startswith("numpy") for dep in extras["large"])
    assert "bulkdel[large]" in extras["test"]
