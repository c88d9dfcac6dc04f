"""The ``bulkdel`` command line: a thin adapter over the library.

``main`` (in ``main.py``) parses and dispatches; each command has its module. Only
``demo`` and ``fake_server`` import ``bulkdel.testing``, and only when they run.
"""

from __future__ import annotations

from .confirm import CONFIRM_ABOVE
from .exits import EXIT_FATAL, EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .main import main

__all__ = [
    "CONFIRM_ABOVE",
    "EXIT_FATAL",
    "EXIT_INCOMPLETE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "main",
]
