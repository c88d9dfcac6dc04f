"""The id rule and de-duplication."""

from __future__ import annotations

import re
from typing import Final

#: ImageKit ids are 24 hex characters; we accept the wider safe alphabet SPEC allows.
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


_LOWER_HEX = re.compile(r"[0-9a-f]{1,64}").fullmatch


class Deduper:
    """Remembers every id seen, compactly; answers "seen before?" exactly.

    Lowercase hex ids (ImageKit's own are 24 hex characters) are kept as an int that also
    encodes the length, about 40 bytes instead of a 73-byte str; other ids are kept as
    str. An int never equals a str, so the two forms cannot collide.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: set[int | str] = set()

    @staticmethod
    def _key(file_id: str) -> int | str:
        if _LOWER_HEX(file_id):
            return (int(file_id, 16) << 7) | len(file_id)
        return file_id

    def add(self, file_id: str) -> bool:
        """Record ``file_id``; True when it was new, False for a repeat."""
        key = self._key(file_id)
        seen = self._seen
        if key in seen:
            return False
        seen.add(key)
        return True

    def __contains__(self, file_id: str) -> bool:
        return self._key(file_id) in self._seen

    def __len__(self) -> int:
        return len(self._seen)
