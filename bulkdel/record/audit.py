"""The audit record of a run: who asked for it, what it was asked to do, where and when.

``summary.json``'s ``audit`` section answers "which run deleted this file, and on whose
say-so" from the report directory alone: bulkdel's version, the host and OS user, the start
and end (UTC), the command line (or the library call) with secrets removed, the resolved
selection, and the account as a fingerprint of its key.

The fingerprint is the first 16 hex digits of the SHA-256 of the key: the same key always
gives the same fingerprint (``printf %s "$IMAGEKIT_PRIVATE_KEY" | sha256sum | cut -c1-16``
tells whose it was), and it says nothing usable about the key. The key itself is never here.
Secrets that can reach a command line are removed: a URL's password (``--redis
redis://:pw@host``), and any argument equal to the key.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from ..models import Settings

_HIDDEN: Final = "***"


def _version() -> str:
    # The package's own version, which the build reads too: importlib.metadata would scan
    # every installed distribution, on the caller's loop, at the end of each run (and knows
    # none in a source tree).
    from .. import __version__

    return __version__


def key_fingerprint(private_key: str | None) -> str | None:
    """``sha256:<16 hex digits>`` of the key, None without one."""
    if not private_key:
        return None
    return "sha256:" + hashlib.sha256(private_key.strip().encode()).hexdigest()[:16]


def _without_password(text: str) -> str:
    """``text`` with a URL's password replaced by ``***`` (``text`` itself otherwise)."""
    if "://" not in text or "@" not in text:
        return text
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        return _HIDDEN  # unparseable but URL-shaped with an @: hide it whole
    if password is None:
        return text
    netloc = parts.netloc.replace(f":{password}@", f":{_HIDDEN}@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def redact(argv: Sequence[str], secrets: Sequence[str | None] = ()) -> list[str]:
    """``argv`` with secrets removed: URL passwords, and any argument holding a secret."""
    hidden = [s for s in secrets if s]
    out = []
    for arg in argv:
        if any(secret in arg for secret in hidden):
            out.append(_HIDDEN)
        else:
            out.append(_without_password(arg))
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(when: dt.datetime) -> str:
    """``2026-12-02T18:30:00.123Z``."""
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def library_call(settings: Settings) -> dict[str, Any]:
    """How a library caller started a run: the call and its settings (which hold no secret)."""
    return {"call": "bulkdel.BulkDeleter.run", "settings": asdict(settings)}


@dataclass
class Audit:
    """The audit record of one run; ``finish()`` when it ends.

    Args:
        invocation: the command line, secrets already removed (``redact``), or the library
            call (``library_call``).
        base_url: the API the run talked to.
        fingerprint: the key's (``key_fingerprint``), never the key.
    """

    invocation: list[str] | dict[str, Any]
    base_url: str
    fingerprint: str | None
    started_at: dt.datetime = field(default_factory=_now)
    ended_at: dt.datetime | None = None

    def finish(self) -> None:
        """Note the end of the run."""
        self.ended_at = _now()

    def as_dict(self, selection: dict[str, Any] | None) -> dict[str, Any]:
        """``summary.json``'s ``audit`` section."""
        command = self.invocation if isinstance(self.invocation, list) else None
        return {
            "bulkdel_version": _version(),
            "host": socket.gethostname(),
            "user": _user(),
            "started_at": utc(self.started_at),
            "ended_at": None if self.ended_at is None else utc(self.ended_at),
            "command": command,
            "library_call": None if command is not None else self.invocation,
            "selection": None if selection is None else selection.get("describe"),
            "account": {"base_url": self.base_url, "key_fingerprint": self.fingerprint},
        }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (a container)
        return None
