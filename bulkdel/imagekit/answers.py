"""Reading ImageKit's answers: status, body and headers in, an ``Outcome`` out. Pure; the
only place that decides what an answer means."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Sequence
from typing import Any, Final

from ..models import FileError, Kind, Outcome

MESSAGE_MAX: Final = 300


def parse_wait(headers: Any, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait, from ``X-RateLimit-Reset`` (ms) or ``Retry-After``.

    ``X-RateLimit-Reset`` is ImageKit's documented header and wins; ``Retry-After`` may be
    seconds or an HTTP date. Unparseable or negative values count as "not said".
    """
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        try:
            value = float(reset) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    retry_after = headers.get("Retry-After")
    if retry_after is None:
        return None
    try:
        value = float(retry_after)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            return None
        value = when.timestamp() - (time.time() if now is None else now)
        return max(value, 0.0)
    return value if value >= 0 else None


def _header_int(headers: Any, name: str) -> int | None:
    """A positive integer from a header, or None when absent or malformed."""
    try:
        value = int(headers.get(name, ""))
    except ValueError:
        return None
    return value if value > 0 else None


def _ms_to_s(value: int | None) -> float | None:
    return None if value is None else value / 1000.0


def _message(data: Any, text: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:MESSAGE_MAX]
    return " ".join(text.split())[:MESSAGE_MAX] or "(empty body)"


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def classify(
    status: int, body: bytes, headers: Any, batch: Sequence[str], *, sent: bytes | None = None
) -> Outcome:
    """Turn one HTTP answer to a delete request into an Outcome. Pure; never raises.

    ``sent``: the batch as the compact JSON array the request carried (``ids_json``), when
    no id needed escaping: an answer that is, byte for byte, ``{"successfullyDeletedFileIds":
    sent}`` (compact, or with ``json.dumps``'s default spaces) is read without decoding it, as
    the usual answer it is.
    """
    if sent is not None and status in (200, 207) and _lists_every_id(body, sent):
        return Outcome(Kind.SUCCESS, status, deleted=tuple(batch))
    text = body.decode("utf-8", errors="replace")
    try:
        data: Any = json.loads(text)
    except ValueError:
        data = None
    if status in (200, 207):
        return _classify_success(status, data, text, batch)
    if status == 404:
        missing = _str_list(data.get("missingFileIds")) if isinstance(data, dict) else None
        wanted = set(batch)
        found = tuple(dict.fromkeys(i for i in missing or () if i in wanted))
        if found:
            return Outcome(Kind.MISSING, status, missing=found, message=_message(data, text))
        return Outcome(
            Kind.FATAL,
            status,
            message="404 that names no file of the batch; is the base URL right? "
            + _message(data, text),
        )
    if status == 429:
        return Outcome(
            Kind.THROTTLED,
            status,
            message=_message(data, text),
            retry_after=parse_wait(headers),
            limit=_header_int(headers, "X-RateLimit-Limit"),
            interval=_ms_to_s(_header_int(headers, "X-RateLimit-Interval")),
        )
    if status in (400, 413):
        return Outcome(Kind.BAD_REQUEST, status, message=_message(data, text))
    if status in (401, 403):
        return Outcome(Kind.FATAL, status, message=_message(data, text))
    if status >= 500 or status == 408:
        return Outcome(Kind.TRANSIENT, status, message=_message(data, text), maybe_applied=True)
    return Outcome(Kind.FATAL, status, message=f"unexpected HTTP {status}: {_message(data, text)}")


def _lists_every_id(body: bytes, sent: bytes) -> bool:
    """The body is the answer that deleted every id of ``sent`` and named no error, in one
    of its two usual spellings (nothing in ``sent`` needs escaping, so these are exact)."""
    if body == _DELETED_ALL + sent + b"}":
        return True
    return body == _DELETED_ALL_SPACED + sent.replace(b'","', b'", "') + b"}"


_DELETED_ALL: Final = b'{"successfullyDeletedFileIds":'
_DELETED_ALL_SPACED: Final = b'{"successfullyDeletedFileIds": '


def _classify_success(status: int, data: Any, text: str, batch: Sequence[str]) -> Outcome:
    if (
        isinstance(data, dict)
        and not data.get("errors")
        and data.get("successfullyDeletedFileIds") == list(batch)
    ):
        return Outcome(Kind.SUCCESS, status, deleted=tuple(batch))  # the usual answer, fast
    listed = _str_list(data.get("successfullyDeletedFileIds")) if isinstance(data, dict) else None
    raw_errors = data.get("errors", []) if isinstance(data, dict) else None
    if listed is None or not isinstance(raw_errors, list):
        # A 2xx we cannot read may have deleted anything; it is never taken as success.
        return Outcome(
            Kind.TRANSIENT,
            status,
            message=f"unreadable {status} answer: {_message(None, text)}",
            maybe_applied=True,
        )
    wanted = set(batch)
    deleted = tuple(dict.fromkeys(i for i in listed if i in wanted))
    done = set(deleted)
    errors: list[FileError] = []
    for entry in raw_errors:
        if not isinstance(entry, dict):
            continue
        file_id, error = entry.get("fileId"), entry.get("error")
        if isinstance(file_id, str) and file_id in wanted and file_id not in done:
            done.add(file_id)
            errors.append(FileError(file_id, str(error)[:MESSAGE_MAX] if error else "error"))
    # An id the answer does not mention was not said to be deleted: try it again.
    errors.extend(
        FileError(i, "not mentioned in the server's answer") for i in batch if i not in done
    )
    return Outcome(Kind.SUCCESS, status, deleted=deleted, errors=tuple(errors))
