"""The command line's exit codes, named once (docs/contract.md, "Exit codes")."""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_INCOMPLETE: Final = 1
EXIT_USAGE: Final = 2
EXIT_FATAL: Final = 3
EXIT_INTERRUPTED: Final = 130
