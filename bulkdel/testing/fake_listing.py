"""The fake server's file store: the live files in createdAt order, paged like ImageKit.

``GET /v1/files`` on ImageKit pages with ``skip``/``limit`` over the result set *as it is at the
time of each request*: deleting files shrinks it, and every later offset moves. The store
answers the same way (offsets over the live set), so a client that pages naively misses files
here exactly as it would against ImageKit. Times are kept to the millisecond, as ImageKit's
answers show them. The search language is read by ``fake_query``.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from .fake_query import Predicate, QueryError, as_folder, parse_query, query_floor

__all__ = [
    "URL_ENDPOINT",
    "FakeFile",
    "FileStore",
    "QueryError",
    "as_folder",
    "folder_of",
    "parse_query",
    "query_floor",
    "seed_files",
]

#: the URL endpoint of the fake's files (ImageKit's ``https://ik.imagekit.io/<id>``)
URL_ENDPOINT: Final = "https://ik.imagekit.io/fake"
#: every sort ImageKit's description lists for ``GET /v1/files``; the fake's files have no
#: update time, height or width and no query gives them a relevance, so those sorts keep
#: the creation order (as ImageKit's default)
SORTS: Final = frozenset(
    f"{way}_{key}"
    for way in ("ASC", "DESC")
    for key in ("NAME", "CREATED", "UPDATED", "HEIGHT", "WIDTH", "SIZE", "RELEVANCE")
)


def _to_ms(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, cut to the millisecond (ImageKit's precision)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).replace(microsecond=when.microsecond // 1000 * 1000)


def _iso_ms(when: dt.datetime) -> str:
    """ImageKit's form of a time in answers: ``2024-01-02T03:04:05.678Z``."""
    utc = when.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def folder_of(path: str) -> str:
    """The folder of a file path, with a trailing slash (``/a/b/x.jpg`` -> ``/a/b/``)."""
    return path[: path.rfind("/") + 1] or "/"


@dataclass(frozen=True, slots=True)
class FakeFile:
    """One file of the fake media library."""

    file_id: str
    file_path: str
    created_at: dt.datetime
    size: int = 1024
    tags: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The file name, without its folder."""
        return self.file_path.rsplit("/", 1)[-1]

    @property
    def folder(self) -> str:
        """The file's folder, ``/`` for the root."""
        return folder_of(self.file_path)

    def as_json(self, url_endpoint: str = URL_ENDPOINT) -> dict[str, Any]:
        """The File object of ImageKit's listing answer; its ``url`` under ``url_endpoint``."""
        stamp = _iso_ms(self.created_at)
        url = url_endpoint + self.file_path
        return {
            "type": "file",
            "fileId": self.file_id,
            "name": self.name,
            "filePath": self.file_path,
            "tags": list(self.tags) or None,
            "AITags": None,
            "versionInfo": {"id": self.file_id, "name": "Version 1"},
            "isPrivateFile": False,
            "isPublished": True,
            "customCoordinates": None,
            "url": url,
            "thumbnail": f"{url_endpoint}/tr:n-ik_ml_thumbnail{self.file_path}",
            "fileType": "image",
            "mime": "image/jpeg",
            "width": 100,
            "height": 100,
            "size": self.size,
            "hasAlpha": False,
            "customMetadata": {},
            "description": "",
            "createdAt": stamp,
            "updatedAt": stamp,
        }


@dataclass
class FileStore:
    """The live files, kept in createdAt order (ties in the order they were added)."""

    #: live files by id
    files: dict[str, FakeFile] = field(default_factory=dict)
    #: (createdAt, sequence, id) of every file ever added; dead entries are skipped
    _order: list[tuple[dt.datetime, int, str]] = field(default_factory=list)
    #: the sequence number of each live file's entry in ``_order``
    _entry: dict[str, int] = field(default_factory=dict)
    _seq: int = 0

    def add(self, files: Iterable[FakeFile]) -> None:
        """Add (or replace) files."""
        for item in files:
            created = _to_ms(item.created_at)
            item = FakeFile(item.file_id, item.file_path, created, item.size, item.tags)
            self.files[item.file_id] = item
            self._seq += 1
            self._entry[item.file_id] = self._seq
            bisect.insort(self._order, (created, self._seq, item.file_id))

    def discard(self, file_ids: Iterable[str]) -> None:
        """Remove files (deleted); unknown ids are ignored."""
        for file_id in file_ids:
            self.files.pop(file_id, None)
            self._entry.pop(file_id, None)
        if len(self._order) > 2 * len(self.files) + 1024:
            entry = self._entry
            self._order = [e for e in self._order if entry.get(e[2]) == e[1]]

    def __len__(self) -> int:
        return len(self.files)

    def _live(self, floor: dt.datetime | None = None) -> Iterator[FakeFile]:
        files, entry, order = self.files, self._entry, self._order
        start = 0 if floor is None else bisect.bisect_left(order, (floor, 0, ""))
        for index in range(start, len(order)):
            _, seq, file_id = order[index]
            if entry.get(file_id) == seq:
                yield files[file_id]

    def query(
        self,
        *,
        path: str | None = None,
        search_query: str | None = None,
        sort: str = "ASC_CREATED",
        skip: int = 0,
        limit: int = 1000,
        now: dt.datetime | None = None,
    ) -> list[FakeFile]:
        """One page of the live files that match, like ``GET /v1/files``.

        Raises:
            QueryError: a malformed query or an unknown sort.
        """
        if sort not in SORTS:
            raise QueryError(f"Invalid sort parameter {sort!r}.")
        tests: list[Predicate] = []
        if path is not None:
            folder = as_folder(path)
            tests.append(lambda f: f.folder == folder)
        floor = None
        if search_query:
            test, floor = query_floor(search_query, now or dt.datetime.now(dt.UTC))
            tests.append(test)
        matches = [f for f in self._live(floor) if all(test(f) for test in tests)]
        key, reverse = sort.split("_", 1)[1], sort.startswith("DESC")
        if key == "NAME":
            matches.sort(key=lambda f: f.name, reverse=reverse)
        elif key == "SIZE":
            matches.sort(key=lambda f: f.size, reverse=reverse)
        elif reverse:
            matches.reverse()
        return matches[skip : skip + limit]


def seed_files(
    folders: dict[str, int],
    *,
    start: dt.datetime | None = None,
    step: dt.timedelta = dt.timedelta(milliseconds=1),
    first_id: int = 0,
    tags: tuple[str, ...] = (),
    size: int = 1024,
) -> list[FakeFile]:
    """Files in folders (``{"/a/": 5000, "/a/b/": 1000}``): ids in order, ``step`` apart.

    The folders are interleaved in time (one file of each in turn) so that a folder's files
    are spread through the whole createdAt order, as uploads over time are.
    """
    when = start or dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    left = {as_folder(name): count for name, count in folders.items()}
    files: list[FakeFile] = []
    number = first_id
    while any(left.values()):
        for folder, count in left.items():
            if count:
                files.append(
                    FakeFile(f"{number:024x}", f"{folder}file-{number}.jpg", when, size, tags)
                )
                left[folder] = count - 1
                number += 1
                when += step
    return files
