"""The fake server's reading of ImageKit's search language: only what ImageKit documents.

Conditions ``FIELD OP VALUE`` joined by ``AND``/``OR`` with parentheses. Fields and their
operators, as ImageKit's "supported parameters" table gives them:

* ``name``: ``=``, ``:`` (begins with), ``IN``, ``NOT =``, ``NOT IN``
* ``path``: ``=`` (that folder), ``:`` (the folder and its sub-folders)
* ``tags``: ``IN``, ``NOT IN`` (ImageKit also matches ``AITags``; the fake has none)
* ``type``: ``=``, ``IN``, ``NOT =``, ``NOT IN`` (the fake holds files only)
* ``createdAt``, ``updatedAt``: ``=``, ``<``, ``<=``, ``>``, ``>=``, ``NOT =``
* ``size``: ``=``, ``<``, ``<=``, ``>``, ``>=``, ``NOT =`` (bytes, or ``"10kb"``, ``"1mb"``)

Dates are quoted ``"YYYY-MM-DD"``, ``"YYYY-MM-DDTHH:MM:SS"`` (UTC) or relative ``"1h"``,
``"2d"``, ``"3w"``, ``"4m"`` (**months**), ``"5y"``. Anything else is refused with a 400, as a
request the real API may read differently: milliseconds, a ``Z`` or an offset in a date, an
unknown field or operator. Other documented fields (``height``, ``format``, custom metadata,
...) are refused as "not implemented by the fake server".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .fake_listing import FakeFile

Predicate = Callable[["FakeFile"], bool]

_TOKEN: Final = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<op><=|>=|[=:<>(),\[\]])'
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.]*)|(?P<num>-?\d+(?:\.\d+)?))"
)
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}:\d{2})?")
_RELATIVE: Final = re.compile(r"(\d+)([hdwmy])")
_SIZE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?", re.IGNORECASE)
_SIZE_UNITS: Final = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}
_ORDER: Final = ("=", "<", "<=", ">", ">=", "NOT =")
#: each field's documented operators
OPERATORS: Final = {
    "name": ("=", ":", "IN", "NOT =", "NOT IN"),
    "path": ("=", ":"),
    "tags": ("IN", "NOT IN"),
    "type": ("=", "IN", "NOT =", "NOT IN"),
    "createdat": _ORDER,
    "updatedat": _ORDER,
    "size": _ORDER,
}
_UNIMPLEMENTED: Final = frozenset(
    {"height", "width", "format", "private", "published", "transparency"}
)

_METADATA: Final = ("custommetadata.", "embeddedmetadata.")


class QueryError(ValueError):
    """A search query the fake refuses (ImageKit answers 400)."""


def as_folder(path: str) -> str:
    """A folder path with leading and trailing slashes."""
    return "/" + path.strip("/") + "/" if path.strip("/") else "/"


def months_before(when: dt.datetime, months: int) -> dt.datetime:
    """``when`` moved back ``months`` calendar months, the day clamped to the month's end."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return when.replace(year=year, month=month, day=min(when.day, last_day))


def parse_time(value: str, now: dt.datetime) -> dt.datetime:
    """A documented date literal or relative age as a UTC time.

    Raises:
        QueryError: anything else (milliseconds, ``Z``, an offset, an unknown unit).
    """
    relative = _RELATIVE.fullmatch(value)
    if relative:
        count, unit = int(relative[1]), relative[2]
        if unit in "my":
            return months_before(now, count * (1 if unit == "m" else 12))
        hours = {"h": 1, "d": 24, "w": 24 * 7}[unit]
        return now - dt.timedelta(hours=count * hours)
    if not _DATE.fullmatch(value):
        raise QueryError(
            f"Invalid date {value!r} in search query: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS "
            "or a relative unit like 7d."
        )
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _size(value: str) -> float:
    match = _SIZE.fullmatch(value.strip())
    if match is None:
        raise QueryError(f"Invalid size {value!r} in search query.")
    return float(match[1]) * _SIZE_UNITS[(match[2] or "b").lower()]


_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "NOT =": lambda a, b: a != b,
}


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
        token = self.peek()
        name = self.take("str" if token and token[0] == "str" else "word")
        op = "NOT " if self.is_word("NOT") else ""
        self.pos += bool(op)
        if self.is_word("IN"):
            self.pos += 1
            self.take("op", "[")
            values = [self.value()]
            while self.peek() == ("op", ","):
                self.pos += 1
                values.append(self.value())
            self.take("op", "]")
            return self.condition(name, op + "IN", values)
        return self.condition(name, op + self.take("op"), [self.value()])

    def value(self) -> str:
        token = self.peek()
        if token is None or token[0] not in ("str", "num"):
            raise QueryError(f"Invalid search query: expected a value at token {self.pos}.")
        self.pos += 1
        return token[1]

    def condition(self, name: str, op: str, values: list[str]) -> Predicate:
        field = name.lower()
        if field not in OPERATORS:
            if field in _UNIMPLEMENTED or field.startswith(
                ("custommetadata.", "embeddedmetadata.")
            ):
                raise QueryError(f"Field {name!r} is not implemented by the fake server.")
            raise QueryError(f"Invalid search query: unknown field {name!r}.")
        if op not in OPERATORS[field]:
            raise QueryError(f"{name} does not support {op!r}.")
        if field in ("createdat", "updatedat"):
            when = parse_time(values[0], self.now)
            if self.depth == 0 and field == "createdat" and op in (">=", ">", "="):
                self.floor = max(self.floor or when, when)
            compare = _COMPARE[op]
            return lambda f: compare(f.created_at, when)
        if field == "size":
            number = _size(values[0])
            compare_size = _COMPARE[op]
            return lambda f: compare_size(f.size, number)
        negate = op.startswith("NOT")
        test = self._match(field, op.removeprefix("NOT "), values)
        return (lambda f: not test(f)) if negate else test

    def _match(self, field: str, op: str, values: list[str]) -> Predicate:
        if field == "tags":
            wanted = set(values)
            return lambda f: not wanted.isdisjoint(f.tags)
        if field == "type":
            unknown = set(values) - {"file", "file-version", "folder"}
            if unknown:
                raise QueryError(f"Invalid type {sorted(unknown)[0]!r} in search query.")
            return lambda f: "file" in values
        if field == "path":
            folder = as_folder(values[0])
            if op == ":":
                return lambda f: f.folder.startswith(folder)
            return lambda f: f.folder == folder
        if op == ":":
            prefix = values[0]
            return lambda f: f.name.startswith(prefix)
        options = set(values)
        return lambda f: f.name in options


def parse_query(text: str, now: dt.datetime) -> Predicate:
    """A predicate for ``text``; relative times count back from ``now``.

    Raises:
        QueryError: the query is malformed or uses what ImageKit does not document.
    """
    return _Parser(text, now).parse()


def query_floor(text: str, now: dt.datetime) -> tuple[Predicate, dt.datetime | None]:
    """``parse_query``, and the earliest createdAt a match can have (None: any)."""
    parser = _Parser(text, now)
    test = parser.parse()
    return test, parser.floor
