"""Build the API reference of bulkdel's public API from its docstrings (pdoc).

``python docs/api_reference.py [OUT]`` (default ``site/api``) writes the HTML; any warning
(an annotation that does not resolve, a module that does not import) fails the build, so
that a broken reference fails CI. Needs ``pip install 'bulkdel[docs]'``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: the public modules: everything else is reached from them or is internal (``_`` names)
PUBLIC = (
    "bulkdel",
    "bulkdel.engine.batch",
    "bulkdel.budget",
    "bulkdel.budget.redis",
    "bulkdel.core",
    "bulkdel.errors",
    "bulkdel.imagekit",
    "bulkdel.jobs",
    "bulkdel.telemetry",
    "bulkdel.testing",
)


def build(out: Path) -> int:
    """Run pdoc (Google-style docstrings, warnings as errors); its exit code."""
    argv = [sys.executable, "-W", "error", "-m", "pdoc", "--docformat", "google"]
    argv += ["--no-show-source", "--output-directory", str(out), *PUBLIC]
    return subprocess.call(argv)


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1] if len(sys.argv) > 1 else "site/api")))
