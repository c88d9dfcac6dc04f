"""The old home of ``closed_port``, kept only for ``tests/cli/test_cli_realapi.py``, whose
edits belong to another change: import it from ``tests.helpers``. No test lives here; the
preflight's tests are in ``tests/delete/test_preflight.py``."""

from tests.helpers import closed_port

__all__ = ["closed_port"]
