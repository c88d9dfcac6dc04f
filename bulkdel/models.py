"""Small immutable values passed between the parts of bulkdel."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from itertools import repeat
from typing import Any, Final, overload

from .errors import UsageError

#: files ``--purge-cache=files`` purges one by one at most, by default (each purge counts
#: against the account's monthly quota)
DEFAULT_PURGE_LIMIT: Final = 100
#: ids one delete request (and so one batch) may carry: ImageKit's limit
MAX_BATCH: Final = 100
#: the account's API root (``imagekit.urls`` checks every base URL given instead)
DEFAULT_BASE_URL: Final = "https://api.imagekit.io"

#: one id as a source read it: its 1-based line (or position), the id as read, and why it is
#: not usable (None when it passed the id rule)
Item = tuple[int, str, str | None]


class CleanItems(Sequence[Item]):
    """Items that all passed the id rule, on consecutive lines from ``first``: the ids as one
    list and no tuple per id (most of a file of bare ids is read as these; the ingest takes
    ``ids`` as they are). Iterated or indexed, it gives the items a list of them would."""

    __slots__ = ("first", "ids")

    def __init__(self, first: int, ids: list[str]) -> None:
        #: the line (or position) of ``ids[0]``
        self.first = first
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Item]:
        first = self.first
        return zip(range(first, first + len(self.ids)), self.ids, repeat(None))

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> list[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | list[Item]:
        if isinstance(index, slice):
            return list(self)[index]
        at = range(len(self.ids))[index]  # a negative index counts from the end
        return (self.first + at, self.ids[at], None)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CleanItems):
            return self.first == other.first and self.ids == other.ids
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a list of its items, and as mutable

    def __repr__(self) -> str:
        return f"CleanItems(first={self.first}, ids={self.ids!r})"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Items read from one source in one go."""

    source: str
    items: Sequence[Item]
    #: the file records the items came with, as read (a listing page's File objects, a
    #: JSONL input's objects), for the manifest; None for a source of bare ids
    records: list[dict[str, Any]] | None = None


class Kind(StrEnum):
    """What an answer to one delete request means for bulkdel."""

    SUCCESS = "success"  #: 200 or 207: deleted ids, maybe per-id errors
    MISSING = "missing"  #: 404 with missingFileIds: nothing in the batch was deleted
    THROTTLED = "throttled"  #: 429
    BAD_REQUEST = "bad_request"  #: 400
    FATAL = "fatal"  #: 401/403, or a 404 that is not about files
    TRANSIENT = "transient"  #: 5xx, timeout, connection trouble, a body we cannot read


class AbortReason(StrEnum):
    """Why a run ended before accounting every id as sent: what other layers act on.

    The value is the prefix of the text form in ``summary.json``; exit codes come from
    ``EXIT_CODES`` (the one mapping), never from parsing the text.
    """

    INTERRUPTED = "interrupted"  #: a signal (the CLI's SIGINT/SIGTERM)
    CANCELLED = "cancelled"  #: the task the run ran in was cancelled
    STOPPED = "stopped"  #: the library's ``stop()``
    REFUSED = "refused"  #: refused before anything was sent (a limit; a query ImageKit refused)
    FATAL = "fatal"  #: the API said stop (401/403, a 404 not about files, a listing 400)
    LISTING_FAILED = "listing failed"  #: a listing page kept failing
    ERROR = "error"  #: an unexpected exception inside bulkdel
    DISK_FULL = "disk full"  #: the report's file system filled: sending stopped
    #: no delete request got an answer: none connected (DNS, refused, TLS), or every attempt
    #: timed out or got a 5xx
    UNREACHABLE = "unreachable"
    #: the whole input was read and not one line of it is a valid id: nothing to send
    NO_VALID_ID = "no valid id"


class ExitCode(IntEnum):
    """The exit codes of the command line (docs/contract.md, "Exit codes"): the one table."""

    OK = 0  #: every id deleted or missing; a dry run that read its input
    INCOMPLETE = 1  #: ids failed or not attempted; a listing page kept failing; a bug
    #: a bad option or input (not one valid id in it), a refusal, a declined prompt: nothing
    #: deleted
    USAGE = 2
    #: the preflight failed, the API never answered a delete, a fatal answer aborted the run,
    #: or the disk filled
    FATAL = 3
    INTERRUPTED = 130  #: SIGINT/SIGTERM


#: the exit code of a run that ended for each reason (None: decided by the counts); the one
#: mapping, used by ``Report.exit_code`` and so by the CLI
EXIT_CODES: dict[AbortReason, ExitCode | None] = {
    AbortReason.INTERRUPTED: ExitCode.INTERRUPTED,
    AbortReason.CANCELLED: ExitCode.INTERRUPTED,
    AbortReason.STOPPED: None,
    AbortReason.REFUSED: ExitCode.USAGE,
    AbortReason.FATAL: ExitCode.FATAL,
    AbortReason.LISTING_FAILED: ExitCode.INCOMPLETE,
    AbortReason.ERROR: ExitCode.INCOMPLETE,
    # not 1: retrying without freeing space would fill the disk again
    AbortReason.DISK_FULL: ExitCode.FATAL,
    AbortReason.UNREACHABLE: ExitCode.FATAL,
    AbortReason.NO_VALID_ID: ExitCode.USAGE,
}


@dataclass(frozen=True, slots=True)
class Abort:
    """A typed reason and a human detail; ``str()`` is the text ``summary.json`` shows.

    Layers act on ``reason`` (and ``exit_code``), never on the text.
    """

    reason: AbortReason
    detail: str = ""

    @property
    def exit_code(self) -> ExitCode | None:
        """The exit code this reason forces, or None when the counts decide."""
        return EXIT_CODES[self.reason]

    def __str__(self) -> str:
        if not self.detail:
            return self.reason.value
        if self.reason is AbortReason.INTERRUPTED:
            return f"interrupted by {self.detail}"
        return f"{self.reason.value}: {self.detail}"


#: how every "the server may have deleted it" failure begins (one wording, one place)
UNKNOWN_PREFIX: Final = "outcome unknown, the server may have deleted it: "
#: the reason of ids whose request may have been applied when the run stopped; the journal
#: keeps these in flight, so that a resumed run sends them again and learns their fate
INTERRUPTED_UNKNOWN: Final = UNKNOWN_PREFIX + "the run stopped before an answer said"


@dataclass(frozen=True, slots=True)
class FileError:
    """One entry of a 207 answer's ``errors`` list."""

    file_id: str
    error: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The classified answer to one request for one batch.

    Only the fields that matter for ``kind`` are set; ``deleted`` and ``missing`` only ever
    hold ids that were in the batch sent.
    """

    kind: Kind
    status: int | None  #: HTTP status, None when no answer arrived
    deleted: tuple[str, ...] = ()
    errors: tuple[FileError, ...] = ()
    missing: tuple[str, ...] = ()
    #: a readable reason for anything but plain success
    message: str = ""
    #: seconds the server asked us to wait (429), when it said so
    retry_after: float | None = None
    #: the throttled window's size, from X-RateLimit-Limit and X-RateLimit-Interval (s)
    limit: int | None = None
    interval: float | None = None
    #: True when the request may have been applied although no answer says so
    #: (timeout or connection lost after sending, 5xx, an unreadable 2xx body)
    maybe_applied: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """The knobs of a delete run. Validated on creation; every field has a safe default."""

    base_url: str = DEFAULT_BASE_URL
    batch_size: int = MAX_BATCH
    concurrency: int = 8
    #: most requests per second; None adapts to the server's 429s
    rate: float | None = None
    max_attempts: int = 6
    timeout: float = 30.0
    #: cap on the time spent retrying one batch, seconds
    max_retry_time: float = 300.0
    #: first backoff step and cap, seconds
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    #: a partial batch is sent when the source gives nothing new for this long
    linger: float = 0.2
    dry_run: bool = False
    max_delete: int | None = None
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        _check_int("concurrency", self.concurrency, 1, MAX_CONCURRENCY)
        if self.rate is not None:
            _check_float("rate", self.rate, 0.0, MAX_RATE, low_open=True)
        _check_int("max_attempts", self.max_attempts, 1, MAX_ATTEMPTS)
        _check_float("timeout", self.timeout, 0.0, MAX_TIMEOUT, low_open=True)
        for name in ("max_retry_time", "backoff_base", "backoff_max", "linger"):
            _check_float(name, getattr(self, name), 0.0, MAX_TIMEOUT)
        if self.max_delete is not None:
            _check_int("max_delete", self.max_delete, 0, None)


#: the bounds ``Settings`` holds its numbers to: far beyond any sensible use, so that a typo
#: (a 20-digit concurrency, ``1e400`` seconds) is refused instead of hanging or overflowing
MAX_CONCURRENCY: Final = 1000
MAX_ATTEMPTS: Final = 100
MAX_RATE: Final = 1_000_000.0
MAX_TIMEOUT: Final = 3600.0


def _check_int(name: str, value: int, low: int, high: int | None) -> None:
    """Raise a ``UsageError`` naming ``name`` unless ``low <= value <= high``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be a whole number, got {value!r}", name)
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"{low}..{high}"
        raise UsageError(f"{name} must be {bounds}, got {value}", name)


def _check_float(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> None:
    """Raise a ``UsageError`` naming ``name`` unless ``value`` is a finite number in range
    (``low`` excluded when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number, got {value!r}", name)
    if value < low or (low_open and value == low) or value > high:
        bounds = f"> {low:g}" if low_open else f">= {low:g}"
        raise UsageError(f"{name} must be {bounds} and <= {high:g}, got {value:g}", name)
