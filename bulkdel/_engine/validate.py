"""The id rule (de-duplication is in ``dedupe``)."""

from __future__ import annotations

import re
from typing import Final

#: ImageKit ids are 24 hex characters; we accept the wider safe alphabet of docs/contract.md, "Ids".
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_ID_LENGTH: Final = 64


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid file id, or None when it is."""
    if ID_PATTERN.fullmatch(value):
        return None
    if not value:
        return "empty id"
    if len(value) > MAX_ID_LENGTH:
        return f"longer than {MAX_ID_LENGTH} characters ({len(value)})"
    bad = next(ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "_-")))
    return f"character {bad!r} is not allowed (only A-Z a-z 0-9 _ -)"


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a well-formed file id."""
    return ID_PATTERN.fullmatch(value) is not None
