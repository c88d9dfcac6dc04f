"""Small immutable values passed between the parts of bulkdel."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import UsageError

#: files ``--purge-cache=files`` purges one by one at most, by default (each purge counts
#: against the account's monthly quota)
DEFAULT_PURGE_LIMIT: Final = 100


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
    CANCELLED = "cancelled"  #: the task running the job was cancelled
    STOPPED = "stopped"  #: the library's ``stop()``
    REFUSED = "refused"  #: refused before anything was sent (a limit; a query ImageKit refused)
    FATAL = "fatal"  #: the API said stop (401/403, a 404 not about files, a listing 400)
    LISTING_FAILED = "listing failed"  #: a listing page kept failing
    ERROR = "error"  #: an unexpected exception inside bulkdel


#: the exit code of a run that ended for each reason (None: decided by the counts); the one
#: mapping, used by ``Report.exit_code`` and so by the CLI
EXIT_CODES: dict[AbortReason, int | None] = {
    AbortReason.INTERRUPTED: 130,
    AbortReason.CANCELLED: 130,
    AbortReason.STOPPED: None,
    AbortReason.REFUSED: 2,
    AbortReason.FATAL: 3,
    AbortReason.LISTING_FAILED: 1,
    AbortReason.ERROR: 1,
}


@dataclass(frozen=True, slots=True)
class Abort:
    """A typed reason and a human detail; ``str()`` is the text ``summary.json`` shows.

    Layers act on ``reason`` (and ``exit_code``), never on the text.
    """

    reason: AbortReason
    detail: str = ""

    @property
    def exit_code(self) -> int | None:
        """The exit code this reason forces, or None when the counts decide."""
        return EXIT_CODES[self.reason]

    def __str__(self) -> str:
        if not self.detail:
            return self.reason.value
        if self.reason is AbortReason.INTERRUPTED:
            return f"interrupted by {self.detail}"
        return f"{self.reason.value}: {self.detail}"


#: the reason of ids whose request may have been applied when the run stopped; the journal
#: keeps these in flight, so that a resumed run sends them again and learns their fate
INTERRUPTED_UNKNOWN: Final = (
    "outcome unknown, the server may have deleted it: the run stopped before an answer said"
)


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
    """How a delete job runs. Validated on creation; every field has a safe default."""

    base_url: str = "https://api.imagekit.io"
    batch_size: int = 100
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
        if not 1 <= self.batch_size <= 100:
            raise UsageError(f"batch_size must be 1..100, got {self.batch_size}")
        if self.concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.rate is not None and not self.rate > 0:
            raise UsageError(f"rate must be > 0, got {self.rate}")
        if self.max_attempts < 1:
            raise UsageError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if not self.timeout > 0:
            raise UsageError(f"timeout must be > 0, got {self.timeout}")
        if self.max_delete is not None and self.max_delete < 0:
            raise UsageError(f"max_delete must be >= 0, got {self.max_delete}")
