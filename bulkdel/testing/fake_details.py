"""The fake server's ``GET /v1/files/{fileId}/details``, as ImageKit's OpenAPI description has
it: 200 with the File object, 404 ``{"message", "help"}`` for a file that does not exist
(deleted, or never there), 400 for a malformed id; 401/403/429 first, like every endpoint.

A listable file (the store's) answers with its record; when the server holds no store entry
for an id that exists (``existing=None``: every well-formed id exists once, or an id in
``existing``), the record is made up from the id, in the same shape.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Final

from aiohttp import web

from .fake_list_api import error
from .fake_listing import FakeFile

if TYPE_CHECKING:
    from .fake_server import FakeImageKit

DETAILS_ROUTE: Final = "/v1/files/{fileId}/details"
#: the creation time of a made-up record
_EPOCH: Final = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def install(server: FakeImageKit, app: web.Application) -> None:
    """Add the route to ``app``."""
    app.router.add_get(DETAILS_ROUTE, functools.partial(handle_details, server))


async def handle_details(server: FakeImageKit, request: web.Request) -> web.Response:
    """The route: counts the request, then answers it."""
    stats = server.stats
    stats.requests += 1
    stats.details_requests += 1
    response = answer_details(server, request)
    stats.by_status[response.status] += 1
    return response


def answer_details(server: FakeImageKit, request: web.Request) -> web.Response:
    """One answer of the details endpoint."""
    refused = server._refuse(request)
    if refused is not None:
        return refused
    file_id = request.match_info["fileId"]
    if server.faults.error_5xx and server._random.random() < server.faults.error_5xx:
        server.stats.faults["error_5xx"] += 1
        return error(503, "Service temporarily unavailable.")
    from .fake_server import ID_PATTERN

    if ID_PATTERN.fullmatch(file_id) is None:
        return error(400, "Your request contains invalid fileId parameter.")
    stored = server.store.files.get(file_id)
    if stored is None and server.exists(file_id):
        stored = FakeFile(file_id, f"/{file_id}.jpg", _EPOCH)
    if stored is None:
        return error(404, "The requested file does not exist.")
    return web.json_response(stored.as_json(server.url_endpoint))
