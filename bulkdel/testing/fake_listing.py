"""The fake server's file store and the subset of ImageKit's search language it understands.

``GET /v1/files`` on ImageKit pages with ``skip``/``limit`` over the result set *as it is at the
time of each request*: deleting files shrinks it, and every later offset moves. The store
answers the same way (offsets over the live set), so a client that pages naively misses files
here exactly as it would against ImageKit.

Search language subset: conditions ``FIELD OP VALUE`` joined by ``AND``/``OR`` with
parentheses, where OP is ``=``, ``:``, ``<``, ``<=``, ``>``, ``>=``, ``NOT =``, ``IN [..]`` or
``NOT IN [..]``; fields ``name``, ``path``, ``tags``, ``createdAt``, ``size`` and ``fileId``.
``path : "/a/"`` is "in /a/ or its sub-folders", ``path = "/a/"`` is "in /a/ only", ``name :``
is "begins with"; ``createdAt`` takes ISO dates or relative ages like ``"7d"`` (``createdAt >
"7d"`` is "created in the last 7 days"), compared to the millisecond.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

Predicate = Callable[["FakeFile"], bool]

SORTS: Final = frozenset(
    {"ASC_CREATED", "DESC_CREATED", "ASC_NAME", "DESC_NAME", "ASC_SIZE", "DESC_SIZE"}
)
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_TOKEN: Final = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|[=:<>(),\[\]])'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<num>-?\d+(?:\.\d+)?))"
)


class QueryError(ValueError):
    """A search query the store does not understand (ImageKit answers 400)."""


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


def as_folder(path: str) -> str:
    """A folder path with leading and trailing slashes."""
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


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

    def as_json(self) -> dict[str, Any]:
        """The File object of ImageKit's listing answer."""
        stamp = _iso_ms(self.created_at)
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
            "url": f"https://ik.imagekit.io/fake{self.file_path}",
            "thumbnail": f"https://ik.imagekit.io/fake/tr:n-ik_ml_thumbnail{self.file_path}",
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


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"Invalid search query near {text[pos : pos + 20]!r}.")
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out.append((kind, value))
        pos = match.end()
    return out


def _time(value: str, now: dt.datetime) -> dt.datetime:
    relative = re.fullmatch(r"(\d+)([smhdw])", value)
    if relative:
        return now - dt.timedelta(seconds=int(relative[1]) * _UNITS[relative[2]])
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"Invalid date {value!r} in search query.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Parser:
    """Recursive descent over the token list: expr := and (OR and)*; and := atom (AND atom)*."""

    def __init__(self, text: str, now: dt.datetime) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.now = now
        self.depth = 0
        #: the latest ``createdAt >=/>/= T`` that the whole query is AND-ed with: no file
        #: created before it can match, so the store starts its scan there
        self.floor: dt.datetime | None = None

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise QueryError(f"Invalid search query: expected {value or kind} at token {self.pos}.")
        self.pos += 1
        return token[1]

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].upper() == word

    def parse(self) -> Predicate:
        test = self.expr()
        if self.peek() is not None:
            raise QueryError(f"Invalid search query: unexpected {self.peek()!r}.")
        return test

    def expr(self) -> Predicate:
        floor = self.floor
        parts = [self.conjunction()]
        while self.is_word("OR"):
            self.pos += 1
            parts.append(self.conjunction())
        if len(parts) > 1 and self.depth == 0:
            self.floor = floor  # a top-level OR: the conditions seen are not required
        return parts[0] if len(parts) == 1 else lambda f: any(p(f) for p in parts)

    def conjunction(self) -> Predicate:
        parts = [self.atom()]
        while self.is_word("AND"):
            self.pos += 1
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else lambda f: all(p(f) for p in parts)

    def atom(self) -> Predicate:
        if self.peek() == ("op", "("):
            self.pos += 1
            self.depth += 1
            floor = self.floor
            inner = self.expr()
            self.floor = floor  # a bound inside parentheses may sit under an OR
            self.depth -= 1
            self.take("op", ")")
            return inner
        name = self.take("word")
        negate = self.is_word("NOT")
        if negate:
            self.pos += 1
            self.depth += 1  # a bound under NOT is no bound
        if self.is_word("IN"):
            self.pos += 1
            self.take("op", "[")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.pos += 1
                values.append(self.value())
            self.take("op", "]")
            test = self.condition(name, "IN", values)
        else:
            op = self.take("op")
            test = self.condition(name, op, [self.value()])
        if negate:
            self.depth -= 1
        return (lambda f: not test(f)) if negate else test

    def value(self) -> str:
        token = self.peek()
        if token is None or token[0] not in ("str", "num"):
            raise QueryError(f"Invalid search query: expected a value at token {self.pos}.")
        self.pos += 1
        return token[1]

    def condition(self, name: str, op: str, values: list[str]) -> Predicate:
        field_name = name.lower()
        if field_name == "createdat":
            if op not in _COMPARE:
                raise QueryError(f"createdAt does not support {op!r}.")
            when = _time(values[0], self.now)
            if self.depth == 0 and op in (">=", ">", "=") and (not self.floor or when > self.floor):
                self.floor = when
            compare = _COMPARE[op]
            return lambda f: compare(f.created_at, when)
        if field_name == "size":
            if op not in _COMPARE:
                raise QueryError(f"size does not support {op!r}.")
            number = float(values[0])
            compare_size = _COMPARE[op]
            return lambda f: compare_size(f.size, number)
        if field_name == "tags":
            if op not in ("IN", "="):
                raise QueryError(f"tags does not support {op!r}.")
            wanted = set(values)
            return lambda f: not wanted.isdisjoint(f.tags)
        getters: dict[str, Callable[[FakeFile], str]] = {
            "name": lambda f: f.name,
            "path": lambda f: f.folder,
            "fileid": lambda f: f.file_id,
        }
        get = getters.get(field_name)
        if get is None:
            raise QueryError(f"Invalid search query: unknown field {name!r}.")
        if field_name == "path":
            values = [as_folder(v) for v in values]
        if op in ("=", "IN"):
            options = set(values)
            return lambda f: get(f) in options
        if op == ":":
            prefix = values[0]
            return lambda f: get(f).startswith(prefix)
        raise QueryError(f"{name} does not support {op!r}.")


def parse_query(text: str, now: dt.datetime) -> Predicate:
    """A predicate for ``text``; relative times count back from ``now``.

    Raises:
        QueryError: the query is malformed or uses what the subset does not have.
    """
    return _Parser(text, now).parse()


def query_floor(text: str, now: dt.datetime) -> tuple[Predicate, dt.datetime | None]:
    """``parse_query``, and the earliest createdAt a match can have (None: any)."""
    parser = _Parser(text, now)
    test = parser.parse()
    return test, parser.floor


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
