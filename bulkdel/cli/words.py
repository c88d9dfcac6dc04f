"""Counts in words: "1 page", "2 pages", never "1 pages"."""

from __future__ import annotations


def counted(n: int, noun: str, nouns: str | None = None) -> str:
    """``n`` (with thousands separators) and ``noun``, plural unless ``n`` is 1; ``nouns``
    when the plural is not ``noun + "s"``."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"
