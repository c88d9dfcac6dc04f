"""``python -m bulkdel``: the same as the ``bulkdel`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
