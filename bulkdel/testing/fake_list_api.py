"""The fake server's ``GET /v1/files``: offset paging over the live set, as ImageKit does, and
the search language as ImageKit documents it (``fake_query``).

Kept apart from ``fake_server`` (which owns access checks, faults and counters) so that each
module stays small; ``answer_list`` reads the server's state and answers one request.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from aiohttp import web

from .fake_query import QueryError

if TYPE_CHECKING:
    from .fake_server import FakeImageKit

HELP: Final = "For support kindly contact us at support@imagekit.io."


def error(status: int, message: str) -> web.Response:
    """ImageKit's error answer: ``{"message": ..., "help": ...}``."""
    return web.json_response({"message": message, "help": HELP}, status=status)


async def handle_list(server: FakeImageKit, request: web.Request) -> web.StreamResponse:
    """The route: counts the request, then ``server._answer_list`` (which tests replace)."""
    stats = server.stats
    stats.requests += 1
    stats.list_requests += 1
    response = await server._answer_list(request)
    stats.by_status[response.status] += 1
    return response


async def answer_list(server: FakeImageKit, request: web.Request) -> web.StreamResponse:
    """One answer of ``GET /v1/files``: 401/403/429 first, then faults, then the page."""
    refused = server._refuse(request)
    if refused is not None:
        return refused
    faults = server.faults
    if faults.latency or faults.latency_jitter:
        await asyncio.sleep(faults.latency + server._random.random() * faults.latency_jitter)
    if faults.error_5xx and server._random.random() < faults.error_5xx:
        server.stats.faults["error_5xx"] += 1
        return error(503, "Service temporarily unavailable.")
    query = request.query
    if query.get("type", "file") not in ("file", "all"):
        return web.json_response([])  # the store holds no folders or versions
    try:
        limit = int(query.get("limit", "1000"))
        skip = int(query.get("skip", "0"))
    except ValueError:
        return error(400, "limit and skip must be integers.")
    if not 1 <= limit <= 1000 or skip < 0:
        return error(400, "limit must be 1..1000 and skip >= 0.")
    try:
        page = server.store.query(
            path=query.get("path"),
            search_query=query.get("searchQuery"),
            sort=query.get("sort", "ASC_CREATED"),
            skip=skip,
            limit=limit,
        )
    except QueryError as exc:
        return error(400, str(exc))
    endpoint = server.url_endpoint
    return web.json_response([item.as_json(endpoint) for item in page])
