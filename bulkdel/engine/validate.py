"""The id rule (de-duplication is in ``bulkdel.dedupe``).

ImageKit's file ids are 24 hex characters (MongoDB object ids). The rule accepts a wider safe
alphabet (docs/contract.md, "Ids") so that an id of another shape is not refused by bulkdel
first, but not what cannot be a file id: fewer than ``MIN_ID_LENGTH`` characters (a word
such as a CSV header ``fileId``, ``null``, or the characters of one id iterated as a
string), more than ``MAX_ID_LENGTH``, or anything outside ``[A-Za-z0-9_-]`` (whitespace,
control characters, ``/``, quotes, a URL).
"""

from __future__ import annotations

import re
from typing import Final

from ..errors import UsageError

MIN_ID_LENGTH: Final = 16
MAX_ID_LENGTH: Final = 64
ID_PATTERN: Final = re.compile(rf"[A-Za-z0-9_-]{{{MIN_ID_LENGTH},{MAX_ID_LENGTH}}}")


def id_problem(value: str) -> str | None:
    """Why ``value`` is not a valid file id, or None when it is."""
    if ID_PATTERN.fullmatch(value):
        return None
    if not value:
        return "empty id"
    bad = next((ch for ch in value if not (ch.isascii() and (ch.isalnum() or ch in "_-"))), None)
    if bad is not None:
        return f"character {bad!r} is not allowed (only A-Z a-z 0-9 _ -)"
    if len(value) > MAX_ID_LENGTH:
        return f"longer than {MAX_ID_LENGTH} characters ({len(value)})"
    return (
        f"shorter than {MIN_ID_LENGTH} characters ({len(value)}): not a file id (ImageKit's are 24)"
    )


def id_lengths_only(text: bytes, lines: list[str]) -> bool:
    """Every one of ``lines`` (``text`` split at its newlines) is ``MIN_ID_LENGTH`` to
    ``MAX_ID_LENGTH`` characters long (``text`` is ASCII)."""
    width = len(lines[0])
    step = width + 1
    if len(text) == len(lines) * step - 1 and text[width::step] == b"\n" * (len(lines) - 1):
        # all of one width (ids mostly are): the newlines are where that width puts them,
        # found without a step per line
        return MIN_ID_LENGTH <= width <= MAX_ID_LENGTH
    sizes = set(map(len, lines))
    return min(sizes) >= MIN_ID_LENGTH and max(sizes) <= MAX_ID_LENGTH


def is_valid_id(value: str) -> bool:
    """True when ``value`` is a well-formed file id."""
    return ID_PATTERN.fullmatch(value) is not None


def refuse_text(ids: object, parameter: str) -> None:
    """Raise a ``UsageError`` naming ``parameter`` when ``ids`` is one ``str`` or ``bytes``
    instead of a collection of ids: iterated, each of its characters would be sent as an id.

    (Type hints cannot say "an iterable of str, but not a str": a str is one.)
    """
    if isinstance(ids, str | bytes | bytearray):
        shown = ids if isinstance(ids, str) else bytes(ids).decode("ascii", "replace")
        raise UsageError(
            f"{parameter} is a {type(ids).__name__}, not a collection of ids (each character "
            f"would be sent as an id): pass a list, e.g. [{shown[:MAX_ID_LENGTH]!r}]",
            parameter,
        )
