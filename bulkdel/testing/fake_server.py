"""A fake ImageKit API for tests, demos and benchmarks: the delete endpoint, faithfully.

It holds the set of existing ids (seeded, or "every well-formed id exists once"), checks the
key, throttles like ImageKit (429 with ``X-RateLimit-*`` headers), answers 404 with
``missingFileIds`` and deletes nothing when any id is unknown, and injects faults from a seeded
random generator so runs repeat. It records ground truth (which ids it deleted) and counters.
Seeded with files (``files=``), it also serves ``GET /v1/files`` (see ``fake_list_api``); it
serves the cache purge endpoints too (``fake_purge``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from . import fake_details
from .fake_limits import Limiter, LimitHeaders, RateWindow
from .fake_limits import rate_limit_headers as rate_limit_headers  # tests/soak.py reads it
from .fake_list_api import answer_list, handle_list
from .fake_listing import URL_ENDPOINT, FakeFile, FileStore
from .fake_purge import FakePurge

DELETE_PATH: Final = "/v1/files/batch/deleteByFileIds"
LIST_PATH: Final = "/v1/files"
#: the ids the fake accepts (the server's rule, kept apart from the client's on purpose)
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
STATS_PATH: Final = "/_fake/stats"
HELP: Final = "For support kindly contact us at support@imagekit.io."
#: status of the response object returned for a dropped connection; never sent
_DROPPED: Final = 599
#: seconds ``stop()`` lets answers in flight finish before cancelling them: a ``slow_after``
#: answer must not hold a test's teardown for ``slow_seconds``
_SHUTDOWN_GRACE: Final = 0.5
_HTML_PAGE: Final = (
    "<html><head><title>502 Bad Gateway</title></head>"
    "<body><center><h1>502 Bad Gateway</h1></center></body></html>"
)


@dataclass(frozen=True)
class Faults:
    """What the fake server gets wrong, and how often (probabilities per request or per id)."""

    seed: int = 0
    #: JSON 500/503 answer, nothing deleted
    error_5xx: float = 0.0
    #: 502 with an HTML page (a proxy in the way), nothing deleted
    html_error: float = 0.0
    #: connection closed before the delete is applied
    drop_before: float = 0.0
    #: delete applied, then the connection is closed without an answer
    drop_after: float = 0.0
    #: delete applied, answer held back ``slow_seconds`` (past the client's timeout)
    slow_after: float = 0.0
    slow_seconds: float = 5.0
    #: seconds added to every answer, plus uniform jitter up to ``latency_jitter``
    latency: float = 0.0
    latency_jitter: float = 0.0
    #: per id: a 207 error that goes away when the id is sent again
    transient_207: float = 0.0
    #: ids that always come back as 207 errors
    permanent_errors: frozenset[str] = frozenset()
    #: per request: a 429 burst (throttled regardless of the rate limit)
    throttle_burst: float = 0.0
    #: per request: refused as if the account's other traffic had just spent the limit
    #: (a 429 stating the limit, whose reset is one token)
    other_traffic: float = 0.0


@dataclass
class ServerStats:
    """Counters that tests and benchmarks read."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    max_in_flight: int = 0
    ids_deleted: int = 0
    #: listing requests (``GET /v1/files``), of any status; also counted in ``requests``
    list_requests: int = 0
    #: file details requests (``GET /v1/files/{id}/details``); also counted in ``requests``
    details_requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counters."""
        return {
            "requests": self.requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "faults": dict(sorted(self.faults.items())),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "ids_deleted": self.ids_deleted,
        }


class FakeImageKit:
    """The fake server: an aiohttp app plus the state it serves.

    Args:
        private_key: the one key accepted.
        existing: ids that exist; None means every well-formed id exists once.
        rate: requests per second before 429 (a token bucket), None for no limit.
        burst: the bucket's size, full at the start (None: one second of ``rate``).
        windows: extra fixed windows, e.g. ``[RateWindow(1000, 15.0)]``.
        faults: what to inject.
        clock: monotonic clock, injectable for tests.
        files: files of the media library, served by ``GET /v1/files``; their ids exist
            (added to ``existing``, which then holds only them unless given too).
        limit_headers: what a 429 says about the limit (ImageKit's headers, only
            ``Retry-After``, or nothing).
        url_endpoint: the files' ``url`` prefix, and what may be purged (``fake_purge``).

    Use ``async with FakeImageKit(...) as server:`` to serve on a free loopback port; read
    ``server.url``, ``server.stats`` and ``server.deleted`` (ground truth).
    """

    def __init__(
        self,
        private_key: str = "fake_private_key",
        *,
        existing: Iterable[str] | None = None,
        rate: float | None = None,
        windows: Iterable[RateWindow] = (),
        faults: Faults | None = None,
        clock: Callable[[], float] = time.monotonic,
        files: Iterable[FakeFile] = (),
        limit_headers: LimitHeaders = LimitHeaders.FULL,
        url_endpoint: str = URL_ENDPOINT,
        burst: float | None = None,
    ) -> None:
        #: the key accepted, as ImageKit reads it: the Basic-auth user name
        self._private_key = private_key
        #: the header bulkdel sends, recognised without decoding
        self._expected_auth = "Basic " + base64.b64encode(f"{private_key}:".encode()).decode()
        self.existing: set[str] | None = set(existing) if existing is not None else None
        #: the listable files; deleting one through the delete endpoint removes it
        self.store = FileStore()
        self.store.add(files)
        if self.store.files:
            self.existing = (self.existing or set()) | self.store.files.keys()
        #: every id this server deleted: the ground truth for tests
        self.deleted: set[str] = set()
        self.stats = ServerStats()
        self.faults = faults or Faults()
        self._random = random.Random(self.faults.seed)
        self._throttle = Limiter(
            rate,
            windows,
            clock,
            headers=limit_headers,
            other_traffic=self.faults.other_traffic,
            seed=self.faults.seed,
            burst=burst,
        )
        self.app = web.Application()
        self.app.router.add_post(DELETE_PATH, self._handle_delete)
        self.app.router.add_get(STATS_PATH, self._handle_stats)
        self.app.router.add_get(LIST_PATH, functools.partial(handle_list, self))
        self.url_endpoint = url_endpoint.rstrip("/")
        self.purge = FakePurge(self.url_endpoint)
        self.purge.install(self.app, self._check_access)
        fake_details.install(self, self.app)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def __repr__(self) -> str:
        return f"FakeImageKit(url={self.url!r}, private_key=***)"

    def exists(self, file_id: str) -> bool:
        """Whether ``file_id`` currently exists on this server."""
        if self.existing is not None:
            return file_id in self.existing
        return ID_PATTERN.fullmatch(file_id) is not None and file_id not in self.deleted

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on ``host:port`` (0 picks a free port); returns the base URL."""
        self._runner = web.AppRunner(
            self.app, access_log=None, handle_signals=False, shutdown_timeout=_SHUTDOWN_GRACE
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=1024)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        bound = server.sockets[0].getsockname()
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeImageKit:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats.as_dict())

    async def _handle_delete(self, request: web.Request) -> web.StreamResponse:
        stats = self.stats
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            response = await self._answer_delete(request)
        finally:
            stats.in_flight -= 1
        if response.status != _DROPPED:
            stats.by_status[response.status] += 1
        return response

    async def _answer_delete(self, request: web.Request) -> web.StreamResponse:
        refused = self._check_access(request)
        if refused is not None:
            return refused
        body = await request.read()
        ids, problem = _parse_body(body)
        if problem is not None or ids is None:
            return _error(400, problem or "fileIds parameter is missing.")
        faults = self.faults
        if faults.latency or faults.latency_jitter:
            await asyncio.sleep(faults.latency + self._random.random() * faults.latency_jitter)
        roll = self._random.random
        if faults.throttle_burst and roll() < faults.throttle_burst:
            self.stats.faults["throttle_burst"] += 1
            # A burst from elsewhere on the account: the headers state the account's real
            # limit (the configured rate, else a generous one), only the reset is short.
            limit = int(self._throttle.rate or 1000)
            return _error(429, "Too many requests.", self._throttle.refusal(limit, 0.05, 1.0))
        if faults.error_5xx and roll() < faults.error_5xx:
            self.stats.faults["error_5xx"] += 1
            return _error(503, "Service temporarily unavailable.")
        if faults.html_error and roll() < faults.html_error:
            self.stats.faults["html_error"] += 1
            return web.Response(status=502, text=_HTML_PAGE, content_type="text/html")
        if faults.drop_before and roll() < faults.drop_before:
            self.stats.faults["drop_before"] += 1
            return _drop(request)
        unique = list(dict.fromkeys(ids))
        missing = self._missing(unique)
        if missing:
            return web.json_response(
                {
                    "message": "The requested file(s) does not exist.",
                    "help": HELP,
                    "missingFileIds": missing,
                },
                status=404,
            )
        deleted, errors = self._apply(unique)
        if faults.drop_after and roll() < faults.drop_after:
            self.stats.faults["drop_after"] += 1
            return _drop(request)
        if faults.slow_after and roll() < faults.slow_after:
            self.stats.faults["slow_after"] += 1
            await asyncio.sleep(faults.slow_seconds)
        if errors:
            return web.json_response(
                {"successfullyDeletedFileIds": deleted, "errors": errors}, status=207
            )
        return web.json_response({"successfullyDeletedFileIds": deleted})

    async def _answer_list(self, request: web.Request) -> web.StreamResponse:
        return await answer_list(self, request)

    def _check_access(self, request: web.Request) -> web.Response | None:
        """The 401/403/429 (rate limit) answer to a request, or None when it may go on."""
        auth = request.headers.get("Authorization")
        if not auth:
            return _error(401, "Your request does not contain private API key.")
        if auth != self._expected_auth and _basic_user(auth) != self._private_key:
            return _error(403, "Your account cannot be authenticated.")
        if self._throttle.active:
            headers = self._throttle.admit()
            if headers is not None:
                return _error(429, "Too many requests.", headers)
        return None

    def _refuse(self, request: web.Request) -> web.Response | None:
        """The 401/403/429 answer to a listing request (a burst included), or None."""
        refused = self._check_access(request)
        if refused is not None:
            return refused
        if self.faults.throttle_burst and self._random.random() < self.faults.throttle_burst:
            self.stats.faults["throttle_burst"] += 1
            limit = int(self._throttle.rate or 1000)
            return _error(429, "Too many requests.", self._throttle.refusal(limit, 0.05, 1.0))
        return None

    def _missing(self, ids: list[str]) -> list[str]:
        """The ids of ``ids`` that do not exist, in order.

        The usual case (none missing) is answered by set and ``map`` calls that run in C:
        a per-id Python loop here was most of the server's CPU time in benchmarks.
        """
        if self.existing is not None:
            if self.existing.issuperset(ids):
                return []
        elif self.deleted.isdisjoint(ids) and all(map(ID_PATTERN.fullmatch, ids)):
            return []
        return [i for i in ids if not self.exists(i)]

    def _apply(self, ids: list[str]) -> tuple[list[str], list[dict[str, str]]]:
        faults = self.faults
        deleted = ids
        errors: list[dict[str, str]] = []
        if faults.permanent_errors or faults.transient_207:
            deleted = []
            for file_id in ids:
                if file_id in faults.permanent_errors:
                    errors.append(
                        {"fileId": file_id, "error": "File is locked and cannot be deleted."}
                    )
                elif faults.transient_207 and self._random.random() < faults.transient_207:
                    self.stats.faults["transient_207"] += 1
                    errors.append({"fileId": file_id, "error": "Internal error, please retry."})
                else:
                    deleted.append(file_id)
        if self.existing is not None:
            self.existing.difference_update(deleted)
        if self.store.files:
            self.store.discard(deleted)
        self.deleted.update(deleted)
        self.stats.ids_deleted += len(deleted)
        return deleted, errors


def _basic_user(auth: str) -> str | None:
    """The user name of a Basic ``Authorization`` header, None when it is not one.

    ImageKit ignores the password: the official SDK sends ``key:do_not_set``.
    """
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return None
    user, colon, _ = decoded.partition(":")
    return user if colon else None


def _parse_body(body: bytes) -> tuple[list[str] | None, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        return None, "Request body is not valid JSON."
    if not isinstance(data, dict) or "fileIds" not in data:
        return None, "fileIds parameter is missing."
    ids = data["fileIds"]
    # set(map(type, ...)) runs in C; JSON gives plain str, never a subclass
    if not isinstance(ids, list) or not set(map(type, ids)) <= {str}:
        return None, "fileIds should be an Array."
    if not ids:
        return None, "fileIds is empty."
    if len(ids) > 100:
        return None, "fileIds cannot have more than 100 items."
    return ids, None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"message": message, "help": HELP}, status=status, headers=headers)


def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    with contextlib.suppress(Exception):
        request.protocol.force_close()
    # Nothing reaches the client: the transport is gone.
    return web.Response(status=_DROPPED)
