"""The connection every ImageKit client shares: the key (only as its auth header), the session,
base-URL safety, and turning one HTTP exchange into an answer or a transient ``Outcome``."""

from __future__ import annotations

import base64
from types import TracebackType
from typing import Any, Final, Self

import aiohttp

from ..errors import UsageError
from ..models import Kind, Outcome, Settings
from .urls import DEFAULT_BASE_URL, check_base_url

_MESSAGE_MAX: Final = 300
#: shorter keys are not scrubbed from answers: they are not real keys and would garble text
_SCRUB_MIN: Final = 8


class ApiConnection:
    """What every ImageKit client shares: the key (only as its auth header), the session,
    and turning one HTTP exchange into an answer or a transient Outcome.

    Args:
        private_key: the ImageKit private key; kept only as its Basic-auth header (and to be
            cut out of answers).
        base_url: API root, default ``DEFAULT_BASE_URL``.
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
        "answered",
        "base_url",
        "connect_failures",
        "last_connect_failure",
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
        #: exchanges that got an HTTP answer, and those that could not connect at all (DNS,
        #: refused, TLS): a run none of whose requests connected must not look complete
        self.answered = 0
        self.connect_failures = 0
        #: why the last connection failed, as the network library said it
        self.last_connect_failure = ""

    @classmethod
    def for_settings(
        cls,
        private_key: str,
        settings: Settings,
        *,
        session: aiohttp.ClientSession | None = None,
        connections: int | None = None,
    ) -> Self:
        """A client for a run's ``settings`` (base URL, timeout, plain-http permission);
        ``session`` and ``connections`` as in the constructor."""
        return cls(
            private_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            allow_insecure_http=settings.allow_insecure_http,
            session=session,
            connections=connections,
        )

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
                # A caller's session may raise for 4xx/5xx: a 404 naming missing ids, a 429,
                # a 207 are answers to read here, never transport errors.
                raise_for_status=False,
                **options,
            ) as response:
                body = await response.read()
                for secret in self._secrets:
                    body = body.replace(secret, b"***")
                self.answered += 1
                return response.status, body, response.headers
        except aiohttp.ClientConnectorError as exc:
            # The connection was never made, so the request cannot have been applied.
            self.connect_failures += 1
            self.last_connect_failure = _describe(exc)
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


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:_MESSAGE_MAX]
