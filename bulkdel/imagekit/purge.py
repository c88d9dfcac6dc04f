"""The cache purge client: ``POST /v1/files/purge`` and ``GET /v1/files/purge/{requestId}``.

Deleting a file does not purge ImageKit's CDN: it may serve the file until its cache expires.
A purge is asynchronous: the POST answers 201 with a ``requestId``, whose status is
``Pending`` until the purge is done, then ``Completed``. Every POST counts against the
account's monthly purge quota (1000 a month in ImageKit's docs), polling does not.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote

from ..models import Kind, Outcome
from .answers import MESSAGE_MAX, classify
from .connection import ApiConnection

PURGE_PATH: Final = "/v1/files/purge"
STATUSES: Final = frozenset({"Pending", "Completed"})


def _field(body: bytes, name: str) -> str | None:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value else None


def classify_purge(
    status: int, body: bytes, headers: Any, field: str
) -> tuple[Outcome, str | None]:
    """One answer of a purge endpoint: the outcome, and ``field`` of the body when it is
    a 2xx that has it. Pure.

    A 2xx without the field may have submitted a purge, so it is transient and maybe
    applied; a 404 means the base URL is wrong (fatal); the rest follows ``classify``.
    """
    if 200 <= status < 300:
        value = _field(body, field)
        if value is not None and (field != "status" or value in STATUSES):
            return Outcome(Kind.SUCCESS, status), value
        text = " ".join(body.decode("utf-8", errors="replace").split())[:MESSAGE_MAX]
        return Outcome(
            Kind.TRANSIENT,
            status,
            message=f"{status} purge answer without a {field}: {text}",
            maybe_applied=True,
        ), None
    if status == 404:
        return Outcome(
            Kind.FATAL, status, message="404 from the purge endpoint; is the base URL right?"
        ), None
    return classify(status, body, headers, ()), None


class PurgeClient(ApiConnection):
    """Sends cache purge requests to ImageKit (arguments: ``ApiConnection``)."""

    __slots__ = ("_url",)

    def __init__(self, private_key: str, **options: Any) -> None:
        super().__init__(private_key, **options)
        self._url = self.base_url + PURGE_PATH

    async def submit(self, url: str) -> tuple[Outcome, str | None]:
        """Ask for ``url`` (a full URL, maybe ending in ``*``) to be purged: the outcome and
        the ``requestId``. Never raises for network or HTTP trouble."""
        payload = json.dumps({"url": url})
        answer = await self.exchange(
            "POST", self._url, data=payload, content_type="application/json"
        )
        if isinstance(answer, Outcome):
            return answer, None
        return classify_purge(*answer, "requestId")

    async def status(self, request_id: str) -> tuple[Outcome, str | None]:
        """The status of a purge request: ``Pending`` or ``Completed``."""
        answer = await self.exchange("GET", f"{self._url}/{quote(request_id, safe='')}")
        if isinstance(answer, Outcome):
            return answer, None
        return classify_purge(*answer, "status")
