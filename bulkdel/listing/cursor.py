"""Keyset paging on createdAt, at whole seconds: the cursor, the boundary set, and why every
matching file is visited exactly once while the run deletes.

ImageKit documents date literals to the second only, so pages are sorted ASC_CREATED, always
``skip=0``, and ask ``(selection) AND createdAt >= "<cursor>"`` where the cursor is the second
of the newest createdAt seen; the ids already seen *in* that second (the boundary set) are
dropped.

* Invariant: every matching file created before the cursor second has been yielded, and so
  has every file in the boundary set (those created within it).
* A sorted page starting at the cursor is a prefix of "matching, created >= cursor": every
  file older than the page's newest createdAt is in it. So moving the cursor to that
  createdAt's second keeps the invariant, the boundary set being the page's files in it.
* Deletes (ours, or anyone's) only remove files; a removal never changes which files are
  created >= cursor apart from itself, because no offset is involved (skip=0).
* Files added by other writers get a createdAt of their upload, later than anything listed,
  so they are visited when they match. Files are yielded once: an id is only yielded when it
  is newer than the cursor second, or in it and not in the boundary.
* A page that is short ends the listing: fewer files than asked match at or after the
  cursor. A page that is not a JSON array is never taken as an end.

Memory: the boundary set only (files sharing one second), not every id seen.

Not seen: a file whose attributes another writer changes, during the run, so that it newly
matches while its createdAt is already behind the cursor (e.g. tagged ``expired`` after we
passed its upload time). Run again to catch those.

When a full page holds nothing new (a page or more of matching files created in the same
second, e.g. a bulk import), the keyset cannot move past them; that second is then paged by
offset (``Listing._tie_group``), after which the cursor moves to the next second.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from ..errors import ListingError
from .selection import date_literal, to_second, utc_text

_MESSAGE_MAX: Final = 300
SECOND: Final = dt.timedelta(seconds=1)

Entry = dict[str, Any]


def entry_key(entry: Entry) -> str:
    """What tells entries apart: the fileId (or a folder's id or path)."""
    for name in ("fileId", "folderId", "filePath", "folderPath"):
        value = entry.get(name)
        if isinstance(value, str):
            return value
    return json.dumps(entry, sort_keys=True)[:_MESSAGE_MAX]


def created_at(entry: Entry) -> dt.datetime:
    """The entry's createdAt (UTC when no zone is given).

    Raises:
        ListingError: none, or unreadable: the listing cannot be paged safely.
    """
    value = entry.get("createdAt")
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise ListingError(
            f"listing entry {entry_key(entry)!r} has no readable createdAt ({value!r}); "
            "cannot page safely",
            fatal=True,
        )
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def is_file(entry: Entry) -> bool:
    """A file (not a folder or a version)."""
    return bool(entry.get("type", "file") == "file")


class Keyset:
    """The cursor (a whole second), whether that second has been seen whole, and the
    boundary set (ids seen in it)."""

    __slots__ = ("boundary", "cursor", "strict")

    def __init__(self) -> None:
        self.cursor: dt.datetime | None = None
        #: after a tie group: every file in the cursor second has been seen
        self.strict = False
        self.boundary: set[str] = set()

    def bound(self) -> str | None:
        """The condition the next page adds, None for the first page."""
        if self.cursor is None:
            return None
        return f"createdAt >= {date_literal(self.cursor + SECOND if self.strict else self.cursor)}"

    def take(self, page: list[Entry]) -> list[Entry]:
        """The entries of ``page`` not seen before, moving the cursor past them.

        Raises:
            ListingError: the page is not sorted by createdAt, or has no readable one.
        """
        fresh: list[Entry] = []
        previous: dt.datetime | None = None
        for entry in page:
            created = created_at(entry)
            if previous is not None and created < previous:
                raise ListingError(
                    "the listing is not sorted by createdAt; cannot page safely", fatal=True
                )
            previous = created
            second, key = to_second(created), entry_key(entry)
            cursor = self.cursor
            if cursor is not None and (
                second < cursor or (second == cursor and (self.strict or key in self.boundary))
            ):
                continue  # seen (a server comparing coarser than we ask sends these)
            if cursor is None or second > cursor:
                self.cursor, self.strict, self.boundary = second, False, set()
            self.boundary.add(key)
            fresh.append(entry)
        return fresh

    def stuck(self) -> dt.datetime:
        """A full page held nothing new: the second to page by offset.

        Raises:
            ListingError: that second was paged whole already (the server answered files
                older than it asked for).
        """
        assert self.cursor is not None
        if self.strict:
            after = self.cursor + SECOND
            raise ListingError(
                f"the server answered files created before {utc_text(after)} to "
                f"'createdAt >= {date_literal(after)}'; cannot page safely",
                fatal=True,
            )
        return self.cursor

    def passed(self) -> None:
        """The cursor second was paged whole by offset: go on after it."""
        self.strict, self.boundary = True, set()
