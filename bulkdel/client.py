"""One batch, one request, one classified outcome: the only code that talks HTTP to ImageKit."""

from __future__ import annotations

import base64
import email.utils
import ipaddress
import json
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

import aiohttp

from .errors import UsageError
from .models import FileError, Kind, Outcome

DELETE_PATH: Final = "/v1/files/batch/deleteByFileIds"
DEFAULT_BASE_URL: Final = "https://api.imagekit.io"
_MESSAGE_MAX: Final = 300
#: shorter keys are not scrubbed from answers: they are not real keys and would garble text
_SCRUB_MIN: Final = 8


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """Return ``base_url`` without a trailing slash, or raise UsageError if unsafe or malformed.

    The key travels in every request, so plain http is only accepted to loopback hosts
    unless the caller explicitly allows it.
    """
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"base URL {base_url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise UsageError("base URL must not contain credentials; the key is sent separately")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise UsageError(
            f"refusing to send the private key over plain http to {parts.hostname}; "
            "use https, or pass --allow-insecure-http if you really mean it"
        )
    return base_url.rstrip("/")


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
        return str(data["message"])[:_MESSAGE_MAX]
    return " ".join(text.split())[:_MESSAGE_MAX] or "(empty body)"


def _str_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return None


def classify(status: int, body: bytes, headers: Any, batch: Sequence[str]) -> Outcome:
    """Turn one HTTP answer to a delete request into an Outcome. Pure; never raises."""
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
            errors.append(FileError(file_id, str(error)[:_MESSAGE_MAX] if error else "error"))
    # An id the answer does not mention was not said to be deleted: try it again.
    errors.extend(
        FileError(i, "not mentioned in the server's answer") for i in batch if i not in done
    )
    return Outcome(Kind.SUCCESS, status, deleted=deleted, errors=tuple(errors))


class ApiConnection:
    """What every ImageKit client shares: the key (only as its auth header), the session,
    and turning one HTTP exchange into an answer or a transient Outcome.

    Args:
        private_key: the ImageKit private key; kept only as its Basic-auth header (and to be
            cut out of answers).
        base_url: API root, default ``https://api.imagekit.io``.
        session: a caller's session (left open on close), or None to make one.
        timeout: seconds for one whole request.
        connections: connection pool size when the client makes its own session; None for
            no limit (the caller's concurrency limit is then the only one). A pool smaller than
            the requests in flight makes requests queue for a connection, and that wait counts
            against ``timeout``.
        allow_insecure_http: allow plain http to non-loopback hosts.

    Raises:
        UsageError: empty key, ``connections`` < 1, or unsafe/malformed base URL.
    """

    __slots__ = (
        "_auth",
        "_connections",
        "_owns_session",
        "_secrets",
        "_session",
        "_timeout",
        "base_url",
    )

    def __init__(
        self,
        private_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        connections: int | None = None,
        allow_insecure_http: bool = False,
    ) -> None:
        if not private_key or not private_key.strip():
            raise UsageError("the private key is empty")
        if connections is not None and connections < 1:
            raise UsageError(f"connections must be >= 1, got {connections}")
        #: API root, without a trailing slash
        self.base_url = check_base_url(base_url, allow_insecure_http=allow_insecure_http)
        key = private_key.strip()
        token = base64.b64encode(f"{key}:".encode()).decode()
        #: the header the key travels in: built once, never logged. Built by hand because
        #: aiohttp 3.14 deprecates BasicAuth (a warning, an error in our tests).
        self._auth = "Basic " + token
        #: what is cut out of every answer body before it can become a message: a proxy's
        #: error page may echo the request headers back
        self._secrets = tuple(s.encode() for s in (key, token) if len(s) >= _SCRUB_MIN)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connections = connections
        self._owns_session = session is None
        self._session = session

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, private_key=***)"

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session in use, made on first use when the caller gave none."""
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections or 0,
                limit_per_host=self._connections or 0,
                keepalive_timeout=30,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, raise_for_status=False
            )
        return self._session

    async def close(self) -> None:
        """Close the session if this client made it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def exchange(
        self, method: str, url: str, *, content_type: str | None = None, **options: Any
    ) -> tuple[int, bytes, Any] | Outcome:
        """One request: ``(status, body with secrets cut out, headers)``, or a TRANSIENT
        Outcome when no answer came. Never raises for network trouble; cancellation
        propagates."""
        headers = {"Authorization": self._auth}
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            async with self.session.request(
                method,
                url,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                **options,
            ) as response:
                body = await response.read()
                for secret in self._secrets:
                    body = body.replace(secret, b"***")
                return response.status, body, response.headers
        except aiohttp.ClientConnectorError as exc:
            # The connection was never made, so the request cannot have been applied.
            return Outcome(Kind.TRANSIENT, None, message=f"cannot connect: {_describe(exc)}")
        except TimeoutError:
            return Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
        except aiohttp.ClientError as exc:
            return Outcome(
                Kind.TRANSIENT,
                None,
                message=f"connection lost: {_describe(exc)}",
                maybe_applied=True,
            )


class ImageKitClient(ApiConnection):
    """Sends batches to ImageKit's bulk delete endpoint (arguments: ``ApiConnection``)."""

    __slots__ = ("_url",)

    def __init__(self, private_key: str, **options: Any) -> None:
        super().__init__(private_key, **options)
        self._url = self.base_url + DELETE_PATH

    async def delete_batch(self, file_ids: Sequence[str]) -> Outcome:
        """Send one delete request for ``file_ids`` and classify the answer. Never raises
        for network or HTTP trouble; cancellation propagates."""
        payload = json.dumps({"fileIds": list(file_ids)}, separators=(",", ":"))
        answer = await self.exchange(
            "POST", self._url, data=payload, content_type="application/json"
        )
        if isinstance(answer, Outcome):
            return answer
        return classify(*answer, file_ids)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_MAX]
