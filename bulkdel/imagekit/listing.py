"""The listing client: one ``GET /v1/files`` page request, one classified answer."""

from __future__ import annotations

import json
from typing import Any, Final

from ..models import Kind, Outcome
from .answers import MESSAGE_MAX, classify
from .connection import ApiConnection

LIST_PATH: Final = "/v1/files"
#: ImageKit's largest page
MAX_PAGE: Final = 1000


def classify_listing(
    status: int, body: bytes, headers: Any
) -> tuple[Outcome, list[dict[str, Any]] | None]:
    """One answer of ``GET /v1/files``: the outcome, and the page when it is one. Pure.

    Only a 200 whose body is a JSON array of objects is a page; anything else in a 200 is a
    protocol error (retried), never an empty page, so it can never end a listing early.
    Other statuses follow the delete client's ``classify``; a 400 (a query the server
    refuses) and a 404 are fatal.
    """
    if status == 200:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, list) and all(isinstance(entry, dict) for entry in data):
            return Outcome(Kind.SUCCESS, status), data
        text = " ".join(body.decode("utf-8", errors="replace").split())[:MESSAGE_MAX]
        return Outcome(
            Kind.TRANSIENT, status, message=f"200 listing answer is not a JSON array: {text}"
        ), None
    outcome = classify(status, body, headers, ())
    if status == 404:
        return Outcome(
            Kind.FATAL, status, message="404 from the listing endpoint; is the base URL right?"
        ), None
    if outcome.kind is Kind.BAD_REQUEST:
        return Outcome(
            Kind.FATAL, status, message=f"the listing request was refused: {outcome.message}"
        ), None
    return outcome, None


class ListingClient(ApiConnection):
    """Sends ``GET /v1/files`` requests to ImageKit (arguments: ``ApiConnection``)."""

    __slots__ = ()

    @property
    def _url(self) -> str:
        return self.base_url + LIST_PATH

    async def get_page(self, params: dict[str, str]) -> tuple[Outcome, list[dict[str, Any]] | None]:
        """One listing request; never raises for network or HTTP trouble."""
        answer = await self.exchange("GET", self._url, params=params)
        if isinstance(answer, Outcome):
            return answer, None
        return classify_listing(*answer)
