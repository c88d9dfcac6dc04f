"""The command line's exit codes by name: ``models.ExitCode``, the one table
(docs/contract.md, "Exit codes"), under the names the CLI's modules use."""

from __future__ import annotations

from typing import Final

from ..models import ExitCode

EXIT_OK: Final = ExitCode.OK
EXIT_INCOMPLETE: Final = ExitCode.INCOMPLETE
EXIT_USAGE: Final = ExitCode.USAGE
EXIT_FATAL: Final = ExitCode.FATAL
EXIT_INTERRUPTED: Final = ExitCode.INTERRUPTED
