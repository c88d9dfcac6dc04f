"""Which files to select through the listing API: the selectors, checked, and resolved into
one ImageKit ``searchQuery`` with every relative age fixed to an absolute cutoff.

Only syntax ImageKit documents is ever produced: ``type = "file"``, ``path = "/x/"`` (that
folder), ``path : "/x/"`` (and its sub-folders), ``tags IN ["t"]`` and date literals of the
form ``"YYYY-MM-DDTHH:MM:SS"`` (UTC, whole seconds: no milliseconds, no ``Z``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final

from ..errors import UsageError

#: units of ``--older-than`` with a fixed length, in seconds
_FIXED: Final = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
#: calendar units, in months
_CALENDAR: Final = {"mo": 1, "y": 12}
_DURATION: Final = re.compile(r"([0-9]+)\s*([a-z]+)")
AGE_UNITS: Final = "s, min, h, d, w, mo (calendar months) or y (calendar years)"
#: the oldest age taken: ImageKit has no file that old, and a longer one would leave the
#: calendar (``5000y`` before 2026 is a year -2973)
MAX_AGE_YEARS: Final = 1000
_MAX_MONTHS: Final = 12 * MAX_AGE_YEARS
_MAX_SECONDS: Final = 366 * 86400 * MAX_AGE_YEARS


def _age_error(text: str) -> UsageError:
    return UsageError(
        f"older_than takes a positive whole number and a unit {AGE_UNITS}, like 90d; got {text!r}",
        "older_than",
    )


def parse_age(text: str) -> tuple[int, str]:
    """``90d``, ``12h``, ``6mo`` as ``(count, unit)``.

    A bare ``m`` is refused: ImageKit's search language reads ``6m`` as six months, most
    other tools as six minutes, and guessing wrong deletes the wrong files.

    Raises:
        UsageError: a bare ``m``, an unknown unit, or a count that is not positive.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is not None and match[2] == "m":
        raise UsageError(
            f"older_than {text.strip()} is ambiguous: in ImageKit's search language "
            f"{match[1]}m means {match[1]} months, elsewhere {match[1]} minutes; "
            f"write {match[1]}mo for months or {match[1]}min for minutes",
            "older_than",
        )
    if match is None or len(match[1]) > 20 or match[2] not in {*_FIXED, *_CALENDAR}:
        raise _age_error(text)
    count, unit = int(match[1]), match[2]
    if count <= 0:
        raise _age_error(text)
    too_old = (
        count * _CALENDAR[unit] > _MAX_MONTHS
        if unit in _CALENDAR
        else count * _FIXED[unit] > _MAX_SECONDS
    )
    if too_old:
        raise UsageError(
            f"older_than must be at most {MAX_AGE_YEARS} years, got {text.strip()!r}",
            "older_than",
        )
    return count, unit


def months_before(when: dt.datetime, months: int) -> dt.datetime:
    """``when`` moved back ``months`` calendar months, the day clamped to the month's end
    (31 August minus 6 months is 28 or 29 February). The standard library has no month
    arithmetic and this is the only place that needs it."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last_day))


def age_cutoff(text: str, now: dt.datetime) -> dt.datetime:
    """The moment ``text`` (an ``--older-than`` age) before ``now``.

    Raises:
        UsageError: see ``parse_age``.
    """
    count, unit = parse_age(text)
    if unit in _CALENDAR:
        return months_before(now, count * _CALENDAR[unit])
    return now - dt.timedelta(seconds=count * _FIXED[unit])


def parse_date(text: str) -> dt.datetime:
    """An ISO date or date-time; no zone means UTC.

    Raises:
        UsageError: not ISO 8601, not a date that exists (``2024-02-30``), or a moment that
            is not a UTC date (``0001-01-01T00:00+01:00``).
    """
    try:
        when = dt.datetime.fromisoformat(text.strip())
        if when.tzinfo is None:
            return when.replace(tzinfo=dt.UTC)
        when.astimezone(dt.UTC)  # the UTC moment must exist too
    except (ValueError, OverflowError):
        raise UsageError(
            f"created_before takes an ISO date that exists, like 2024-01-31 or "
            f"2024-01-31T12:00:00Z, got {text!r}",
            "created_before",
        ) from None
    return when


def to_second(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, cut down to the whole second (the precision of query literals)."""
    return when.astimezone(dt.UTC).replace(microsecond=0)


def date_literal(when: dt.datetime) -> str:
    """The search language's date literal: ``"2024-01-02T03:04:05"`` (UTC, whole seconds;
    the year always four digits: ``strftime("%Y")`` writes the year 110 as ``110``)."""
    return quote(_iso_second(when))


def _iso_second(when: dt.datetime) -> str:
    return to_second(when).replace(tzinfo=None).isoformat(timespec="seconds")


def utc_text(when: dt.datetime) -> str:
    """A moment for people: ``2024-01-02T03:04:05Z``."""
    return _iso_second(when) + "Z"


def quote(value: str) -> str:
    """A string literal of the search language."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _folder(path: str) -> str:
    inner = path.strip().strip("/")
    return f"/{inner}/" if inner else "/"


#: the first condition of every query: files only. With ``searchQuery`` present ImageKit
#: ignores the ``type`` parameter, so it must be said in the query itself.
FILES_ONLY: Final = 'type = "file"'


@dataclass(frozen=True, slots=True)
class ResolvedSelection:
    """A selection fixed at one moment: the exact query sent, and the cutoff it means.

    Attributes:
        selection: the selectors it came from.
        now: the moment relative ages counted back from.
        conditions: the searchQuery conditions, AND-ed; the first is ``type = "file"``.
        cutoff: files created before this are selected (the earliest of ``--older-than``
            and ``--created-before``, cut to the second), None when no age was given.
        folder: the folder selected (``/a/``), None when no ``--path``.
    """

    selection: Selection
    now: dt.datetime
    conditions: tuple[str, ...]
    cutoff: dt.datetime | None
    folder: str | None

    @property
    def query(self) -> str:
        """The ``searchQuery`` sent."""
        return " AND ".join(self.conditions)

    def describe(self) -> str:
        """The selection for people, cutoff included: ``path : "/a/" AND createdAt <
        2026-08-28T12:00:00Z`` (``type = "file"`` left out: it is always there)."""
        cutoff = None if self.cutoff is None else f"createdAt < {utc_text(self.cutoff)}"
        parts = [
            cutoff if cutoff and c.startswith("createdAt <") else c
            for c in self.conditions
            if c != FILES_ONLY
        ]
        return " AND ".join(parts) or "every file"

    def as_dict(self) -> dict[str, Any]:
        """The ``selection`` section of ``summary.json``."""
        return {
            "selectors": self.selection.describe(),
            "resolved_at": utc_text(self.now),
            "cutoff": None if self.cutoff is None else utc_text(self.cutoff),
            "search_query": self.query,
            "describe": self.describe(),
            "folder": self.folder,
        }


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files to select; every given selector must hold (AND).

    Args:
        path: a folder; alone it means that folder only.
        recursive: ``path`` and every folder under it.
        search_query: ImageKit's search language, passed through (in parentheses).
        older_than: an age like ``90d`` (units: see ``AGE_UNITS``; a bare ``m`` is refused).
        created_before: an ISO date or date-time.
        tags: files carrying each of these tags; ImageKit's ``tags IN`` also matches the
            AI-generated ``AITags``.

    Raises:
        UsageError: nothing selected, ``recursive`` without ``path``, or a bad age/date.
    """

    path: str | None = None
    recursive: bool = False
    search_query: str | None = None
    older_than: str | None = None
    created_before: str | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.recursive and self.path is None:
            raise UsageError(
                "recursive needs path (a folder; path / with recursive selects everything)",
                "recursive",
                "path",
            )
        if self.path is not None and not self.path.strip().startswith("/"):
            raise UsageError(f"path takes a folder like /uploads/, got {self.path!r}", "path")
        if self.older_than is not None:
            age_cutoff(self.older_than, dt.datetime.now(dt.UTC))
        if self.created_before is not None:
            parse_date(self.created_before)
        if self.search_query is not None and not self.search_query.strip():
            raise UsageError("search_query is empty", "search_query")
        if any(not tag.strip() for tag in self.tags):
            raise UsageError("tags: a tag is empty", "tags")
        if not self.selects:
            raise UsageError(
                "select files with path, search_query, older_than, created_before or tags "
                "(path / with recursive selects everything)",
                "path",
                "search_query",
                "older_than",
                "created_before",
                "tags",
                "recursive",
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

    @property
    def folder(self) -> str | None:
        """The ``--path`` folder in ImageKit's form (``/a/b/``), None without one."""
        return None if self.path is None else _folder(self.path)

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

    def cutoff(self, now: dt.datetime) -> dt.datetime | None:
        """The absolute createdAt bound the age selectors mean at ``now``, to the second."""
        bounds = []
        if self.older_than:
            bounds.append(age_cutoff(self.older_than, now))
        if self.created_before:
            bounds.append(parse_date(self.created_before))
        # Cut down, never up: a file a fraction of a second too young is kept, not deleted.
        return to_second(min(bounds)) if bounds else None

    def resolve(self, now: dt.datetime) -> ResolvedSelection:
        """The searchQuery, relative ages fixed at ``now`` (so that every page asks the
        same question, and the prompt shows the cutoff the run will use)."""
        conditions = [FILES_ONLY]
        folder = self.folder
        if folder is not None and not (self.recursive and folder == "/"):
            conditions.append(f"path {':' if self.recursive else '='} {quote(folder)}")
        if self.search_query:
            conditions.append(f"({self.search_query.strip()})")
        cutoff = self.cutoff(now)
        if cutoff is not None:
            conditions.append(f"createdAt < {date_literal(cutoff)}")
        conditions.extend(f"tags IN [{quote(tag.strip())}]" for tag in self.tags)
        return ResolvedSelection(self, now, tuple(conditions), cutoff, folder)
