"""The old name of ``tests.jobs.helpers``, kept only for ``tests/jobs/test_jobs_cli.py``,
whose edits belong to another change: import from ``tests.jobs.helpers`` instead."""

from tests.jobs.helpers import chunks

__all__ = ["chunks"]
