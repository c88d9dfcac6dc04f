"""The fake server's cache purge: ``POST /v1/files/purge`` and ``GET /v1/files/purge/{id}``.

As ImageKit documents it: ``{"url": "<full URL>"}`` answers 201 ``{"requestId"}``; the status
is ``Pending`` until the purge is done, then ``Completed``. A trailing ``*`` is accepted when
the path after the URL endpoint has two levels or more, or 15 characters or more, or ends in
a file name with an extension; a ``*`` anywhere else is refused. The fake completes a purge
after ``pending_polls`` status requests (not after a time), so tests are deterministic, and
records every URL accepted (``purged``, the ground truth).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from .fake_list_api import error

PURGE_PATH: Final = "/v1/files/purge"
_EXTENSION: Final = re.compile(r"[^/]+\.[A-Za-z0-9]+")
#: wildcard paths ImageKit refuses whatever their length
_NEVER: Final = ("media/catalog/", "s/files/")
NOT_VALID: Final = "The URL is not valid for cache purging."

Access = Callable[[web.Request], web.Response | None]


@dataclass
class FakePurgeRequest:
    """One purge request the fake accepted."""

    request_id: str
    url: str
    #: status requests answered so far
    polls: int = 0


def wildcard_allowed(path: str) -> bool:
    """Whether ImageKit accepts ``path*`` (``path``: after the URL endpoint, without ``*``)."""
    inner = path.strip("/")
    if any(inner.startswith(never.rstrip("/")) for never in _NEVER):
        return False
    levels = [part for part in inner.split("/") if part]
    named_file = bool(levels) and _EXTENSION.fullmatch(levels[-1]) is not None
    return len(levels) >= 2 or len(inner) >= 15 or named_file


class FakePurge:
    """The purge endpoints' state.

    Args:
        url_endpoint: the only URL prefix that may be purged.
        pending_polls: status requests answered ``Pending`` before ``Completed``.
    """

    def __init__(self, url_endpoint: str, pending_polls: int = 1) -> None:
        self.url_endpoint = url_endpoint.rstrip("/")
        self.pending_polls = pending_polls
        #: accepted requests by id
        self.requests: dict[str, FakePurgeRequest] = {}
        #: every URL accepted, in order: the ground truth
        self.purged: list[str] = []
        #: status requests answered
        self.status_requests = 0
        #: every answer of both endpoints by HTTP status, refusals (401, 429...) included
        self.answered: Counter[int] = Counter()
        #: answers to give before the real ones, per endpoint (``"submit"``, ``"status"``):
        #: ``(status, body)`` pairs, for tests of what the real API may answer
        self.scripted: dict[str, list[tuple[int, dict[str, str]]]] = {"submit": [], "status": []}
        self._ids = itertools.count(1)
        self._access: Access = lambda request: None

    def install(self, app: web.Application, access: Access) -> None:
        """Serve both endpoints on ``app``, each request checked by ``access`` first."""
        self._access = access
        app.router.add_post(PURGE_PATH, self._submit)
        app.router.add_get(PURGE_PATH + "/{requestId}", self._status)

    def refusal(self, url: object) -> str | None:
        """Why ``url`` cannot be purged, or None."""
        if not isinstance(url, str) or not url.startswith(self.url_endpoint + "/"):
            return NOT_VALID
        path = url[len(self.url_endpoint) :]
        if "*" in path[:-1]:
            return "Wildcards are only supported at the end of the URL."
        if path.endswith("*") and not wildcard_allowed(path[:-1]):
            return NOT_VALID
        return None

    def _scripted(self, endpoint: str) -> web.Response | None:
        answers = self.scripted[endpoint]
        if not answers:
            return None
        status, body = answers.pop(0)
        return web.json_response(body, status=status)

    async def _submit(self, request: web.Request) -> web.Response:
        response = await self._answer_submit(request)
        self.answered[response.status] += 1
        return response

    async def _status(self, request: web.Request) -> web.Response:
        response = await self._answer_status(request)
        self.answered[response.status] += 1
        return response

    async def _answer_submit(self, request: web.Request) -> web.Response:
        refused = self._access(request) or self._scripted("submit")
        if refused is not None:
            return refused
        try:
            body = json.loads(await request.read())
        except ValueError:
            return error(400, "Request body is not valid JSON.")
        url = body.get("url") if isinstance(body, dict) else None
        if url is None:
            return error(400, "url parameter is missing.")
        problem = self.refusal(url)
        if problem is not None:
            return error(400, problem)
        assert isinstance(url, str)
        request_id = f"{next(self._ids):024x}"
        self.requests[request_id] = FakePurgeRequest(request_id, url)
        self.purged.append(url)
        return web.json_response({"requestId": request_id}, status=201)

    async def _answer_status(self, request: web.Request) -> web.Response:
        refused = self._access(request) or self._scripted("status")
        if refused is not None:
            return refused
        self.status_requests += 1
        purge = self.requests.get(request.match_info["requestId"])
        if purge is None:
            return error(400, "No request found for this requestId.")
        purge.polls += 1
        done = purge.polls > self.pending_polls
        return web.json_response({"status": "Completed" if done else "Pending"})
