"""The id rule and de-duplication."""

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
    def key(file_id: str) -> int | str:
        """The form ``file_id`` is remembered in: an int for lowercase hex, else the str.

        ``int(x, 16)`` also takes underscores, signs and upper case, so those stay str.
        """
        if file_id.islower() and "_" not in file_id and "-" not in file_id:
            try:
                return (int(file_id, 16) << 7) | len(file_id)
            except ValueError:
                return file_id
        return file_id

    @property
    def seen(self) -> set[int | str]:
        """The keys remembered (for a hot loop that inlines ``add``)."""
        return self._seen

    def add(self, file_id: str) -> bool:
        """Record ``file_id``; True when it was new, False for a repeat."""
        key = self.key(file_id)
        seen = self._seen
        if key in seen:
            return False
        seen.add(key)
        return True

    def __contains__(self, file_id: str) -> bool:
        return self.key(file_id) in self._seen

    def __len__(self) -> int:
        return len(self._seen)
