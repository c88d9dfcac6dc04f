"""The exception tree of bulkdel.

::

    BulkdelError                 root: catch this to catch everything bulkdel raises
    ├── UsageError               bad option or settings; nothing was sent (CLI exit 2; also a
    │                            ``ValueError``, so code catching that for a bad setting works)
    │   └── InputError           a source cannot be read or parsed as a whole (CLI exit 2)
    │       └── JournalMismatchError  a journal belongs to another input
    ├── FatalAPIError            a bad key (401/403) or a base URL that is not ImageKit's (exit
    │                            3): raised by the preflight and by ``delete_batch``; a run
    │                            (``delete_files``, ``BulkDeleter.run``) reports the same answers
    │                            as ``Abort(AbortReason.FATAL)`` in its report and never raises it
    ├── ListingError             the listing cannot go on (fatal: exit 3; else exit 1)
    │   └── QueryRefusedError    ImageKit answered 400 to the query (on the first page: exit 2)
    ├── UnreachableError         the preflight found no way to the API: DNS, refused, TLS (exit 3)
    ├── JobGoneError             a distributed job's keys are missing from Redis (exit 3)
    ├── RedisError               Redis cannot be used: a refused password, out of memory, a
    │                            server that is not Redis, or unreachable at start (exit 3)
    │   └── RedisUnavailableError  an outage outlasted the wait's bound (``--redis-wait``)
    └── Stopped                  a wait ended because the run is stopping (control flow: the
                                 run's own parts catch it; it carries the stop's reason)

Retryable conditions (5xx, timeouts, resets, 429) are never raised: the client returns them as
outcome values and the retry policy decides. No message ever contains the private key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Abort


class BulkdelError(Exception):
    """Root of every error bulkdel raises."""


class UsageError(BulkdelError, ValueError):
    """A setting or option is wrong; the message names it and the fix.

    The library names its own parameters (``older_than takes ...``), never a command-line
    flag: the CLI shows each parameter named in ``parameters`` as its option, from one table.

    Attributes:
        parameters: the parameters the message names, the one at fault first (may be empty).
    """

    def __init__(self, message: str, *parameters: str) -> None:
        super().__init__(message)
        self.parameters = parameters

    @property
    def parameter(self) -> str | None:
        """The parameter at fault, or None when the error is not about one."""
        return self.parameters[0] if self.parameters else None


class InputError(UsageError):
    """A source cannot be opened or does not have the expected shape."""


class JournalMismatchError(InputError):
    """The journal was written for a different input or different settings."""


class FatalAPIError(BulkdelError):
    """The API answered the preflight in a way that makes starting pointless or dangerous.

    Raised by ``bulkdel.engine.preflight``; a run does not raise it: the report's ``abort`` says
    ``AbortReason.FATAL`` instead.

    Attributes:
        status: the HTTP status that caused the abort.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class ListingError(BulkdelError):
    """Listing cannot go on: a fatal answer (``fatal``), or a page that kept failing."""

    def __init__(self, message: str, *, fatal: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.fatal = fatal
        self.status = status


class QueryRefusedError(ListingError):
    """ImageKit refused the listing's query (HTTP 400); the message names the query.

    Attributes:
        query: the ``searchQuery`` refused.
        first_page: True when no page had been answered yet, so nothing was deleted.
    """

    def __init__(self, message: str, *, query: str, first_page: bool) -> None:
        super().__init__(f"{message} (searchQuery: {query})", fatal=True, status=400)
        self.query = query
        self.first_page = first_page


class UnreachableError(BulkdelError):
    """No answer from the API at all: DNS, connection refused, TLS (found by the preflight).

    Attributes:
        url: the URL that could not be reached.
        cause: what went wrong, as the network library said it.
    """

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot reach {url}: {cause}")
        self.url = url
        self.cause = cause


class JobGoneError(BulkdelError):
    """A distributed job's keys are missing from Redis: never created, deleted, or lost in a
    restart."""


class RedisError(BulkdelError):
    """Redis cannot be used, and waiting will not change that (or no longer may).

    Attributes:
        url: the Redis URL, redacted (``bulkdel.core.redis_connection.redacted``): no password.
        cause: what went wrong, in a few words.
    """

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot use Redis at {url}: {cause}")
        self.url = url
        self.cause = cause


class RedisUnavailableError(RedisError):
    """Redis did not answer for as long as the caller may wait (``RedisWait.total``)."""


class Stopped(BulkdelError):
    """The run is stopping: raised out of any wait on its ``StopSignal``.

    Attributes:
        reason: the stop's ``Abort`` (None when none was given).
    """

    def __init__(self, reason: Abort | None = None) -> None:
        # The reason's text says what it is ("interrupted by SIGTERM", "stopped: ..."): a
        # prefix here doubled it ("stopped: stopped: interrupted by SIGTERM").
        super().__init__(str(reason) if reason is not None else "stopped")
        self.reason = reason
