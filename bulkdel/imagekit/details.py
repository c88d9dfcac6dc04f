"""The file details client: ``GET /v1/files/{fileId}/details``, to check that a file exists.

ImageKit answers 200 with the File object, 404 ``{"message", "help"}`` for a file that does
not exist (never uploaded, or deleted), 400 for a malformed id. A 404 whose body is not that
JSON (a proxy's page, a wrong base URL) says nothing about the file: fatal, as for listing.
"""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import quote

from ..models import Kind, Outcome
from .answers import MESSAGE_MAX, classify
from .connection import ApiConnection

DETAILS_PATH: Final = "/v1/files/{fileId}/details"


def classify_details(status: int, body: bytes, headers: Any) -> Outcome:
    """One answer of the details endpoint. Pure.

    ``SUCCESS``: the file exists (a 200 JSON object with a ``fileId``); ``MISSING``: it does
    not (a JSON 404 with a ``message``); ``BAD_REQUEST``: a malformed id (400); a 404 that is
    not ImageKit's is ``FATAL``; a 200 we cannot read is transient; the rest as ``classify``.
    """
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = None
    if status == 200:
        if isinstance(data, dict) and isinstance(data.get("fileId"), str):
            return Outcome(Kind.SUCCESS, status)
        text = " ".join(body.decode("utf-8", errors="replace").split())[:MESSAGE_MAX]
        return Outcome(Kind.TRANSIENT, status, message=f"200 details answer is not a file: {text}")
    if status == 404:
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return Outcome(Kind.MISSING, status, message=data["message"][:MESSAGE_MAX])
        return Outcome(
            Kind.FATAL, status, message="404 from the details endpoint; is the base URL right?"
        )
    return classify(status, body, headers, ())


class DetailsClient(ApiConnection):
    """Sends ``GET /v1/files/{fileId}/details`` requests (arguments: ``ApiConnection``)."""

    __slots__ = ()

    async def details(self, file_id: str) -> Outcome:
        """Whether ``file_id`` exists, as an Outcome; never raises for network or HTTP
        trouble."""
        url = f"{self.base_url}/v1/files/{quote(file_id, safe='')}/details"
        answer = await self.exchange("GET", url)
        if isinstance(answer, Outcome):
            return answer
        return classify_details(*answer)
