"""Which files to select through the listing API: the selectors, checked, and resolved into
ImageKit's ``path`` parameter and ``searchQuery``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Final

from .errors import UsageError

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION: Final = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s`` as a timedelta.

    Raises:
        UsageError: anything else.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None or int(match[1]) <= 0:
        raise UsageError(
            f"--older-than takes a positive number and a unit s, m, h, d or w (like 90d), "
            f"got {text!r}"
        )
    return dt.timedelta(seconds=int(match[1]) * _UNITS[match[2]])


def parse_date(text: str) -> dt.datetime:
    """An ISO date or date-time; no zone means UTC.

    Raises:
        UsageError: not ISO 8601.
    """
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"--created-before takes an ISO date like 2024-01-31 or 2024-01-31T12:00:00Z, "
            f"got {text!r}"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def iso_ms(when: dt.datetime) -> str:
    """ImageKit's form of a time: ``2024-01-02T03:04:05.678Z`` (UTC, milliseconds)."""
    utc = when.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def quote(value: str) -> str:
    """A string literal of the search language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder(path: str) -> str:
    inner = path.strip().strip("/")
    return f"/{inner}/" if inner else "/"


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files to select; every given selector must hold (AND).

    Args:
        path: a folder; alone it means that folder only.
        recursive: ``path`` and every folder under it.
        search_query: ImageKit's search language, passed through (in parentheses).
        older_than: a duration like ``90d``: created before now minus that.
        created_before: an ISO date or date-time.
        tags: files carrying each of these tags.

    Raises:
        UsageError: nothing selected, ``recursive`` without ``path``, or a bad duration/date.
    """

    path: str | None = None
    recursive: bool = False
    search_query: str | None = None
    older_than: str | None = None
    created_before: str | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.recursive and self.path is None:
            raise UsageError("--recursive needs --path FOLDER (use --path / for everything)")
        if self.path is not None and not self.path.strip().startswith("/"):
            raise UsageError(f"--path takes a folder like /uploads/, got {self.path!r}")
        if self.older_than is not None:
            parse_duration(self.older_than)
        if self.created_before is not None:
            parse_date(self.created_before)
        if self.search_query is not None and not self.search_query.strip():
            raise UsageError("--search-query is empty")
        if any(not tag.strip() for tag in self.tags):
            raise UsageError("--tag is empty")
        if not self.selects:
            raise UsageError(
                "select files with --path, --search-query, --older-than, --created-before or "
                "--tag (--path / --recursive selects everything)"
            )

    @property
    def selects(self) -> bool:
        """True when some selector is given."""
        return bool(
            self.path is not None
            or self.search_query
            or self.older_than
            or self.created_before
            or self.tags
        )

    def describe(self) -> str:
        """The selectors as command-line options (stable: used to recognise a journal)."""
        parts: list[str] = []
        if self.path is not None:
            parts.append(f"--path {self.path}")
        if self.recursive:
            parts.append("--recursive")
        if self.search_query:
            parts.append(f"--search-query {self.search_query!r}")
        if self.older_than:
            parts.append(f"--older-than {self.older_than}")
        if self.created_before:
            parts.append(f"--created-before {self.created_before}")
        parts.extend(f"--tag {tag}" for tag in self.tags)
        return " ".join(parts)

    def resolve(self, now: dt.datetime) -> tuple[str | None, list[str]]:
        """The ``path`` parameter and the searchQuery conditions, relative ages fixed at
        ``now`` (so that every page asks the same question)."""
        path_param = None
        conditions: list[str] = []
        if self.path is not None:
            folder = _folder(self.path)
            if self.recursive:
                if folder != "/":
                    conditions.append(f"path : {quote(folder)}")
            else:
                path_param = folder
        if self.search_query:
            conditions.append(f"({self.search_query.strip()})")
        if self.older_than:
            cutoff = now - parse_duration(self.older_than)
            conditions.append(f"createdAt < {quote(iso_ms(cutoff))}")
        if self.created_before:
            conditions.append(f"createdAt < {quote(iso_ms(parse_date(self.created_before)))}")
        conditions.extend(f"tags IN [{quote(tag.strip())}]" for tag in self.tags)
        return path_param, conditions
