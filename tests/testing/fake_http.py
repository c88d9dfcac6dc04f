"""What the fake server's tests share: well-formed ids, a hand-driven clock, and a raw POST
to the delete endpoint."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import aiohttp

from bulkdel.imagekit import DELETE_PATH
from bulkdel.testing import FakeImageKit
from tests.helpers import KEY

AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def ids(n: int, prefix: str = "f") -> list[str]:
    """``n`` distinct well-formed 24-character ids."""
    return [f"{prefix}{i:023x}" for i in range(n)]


class Clock:
    """A hand-driven monotonic clock for the server's throttle."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def post(
    server: FakeImageKit,
    body: bytes | str | None = None,
    *,
    file_ids: Sequence[Any] | None = None,
    auth: str | None = AUTH,
) -> tuple[int, Any, dict[str, str]]:
    """POST to the delete endpoint; returns status, decoded JSON (or text) and headers."""
    if file_ids is not None:
        body = json.dumps({"fileIds": list(file_ids)})
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + DELETE_PATH, data=body or b"", headers=headers) as response,
    ):
        text = await response.text()
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = text
        return response.status, data, dict(response.headers)
