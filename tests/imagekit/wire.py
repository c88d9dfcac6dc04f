"""What the client tests share: the mocked API's address, a batch, and aioresponses made to
work with the installed aiohttp."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aioresponses import aioresponses
from multidict import CIMultiDict
from yarl import URL

from bulkdel.imagekit import DELETE_PATH

KEY = "private_unit_test_key_42"
BASE = "https://api.example.test"
URL_DELETE = BASE + DELETE_PATH
BATCH = ["a" * 24, "b" * 24, "c" * 24]


class NoUpload:
    """Stands in for the request's stream writer: the mocked request sent no bytes."""

    output_size = 0


class CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 does not pass ``stream_writer``, which aiohttp 3.14 requires
    (pnuckowski/aioresponses#289); this supplies it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", NoUpload())
        super().__init__(*args, **kwargs)


def wire_json(data: Any) -> bytes:
    return json.dumps(data).encode()


def no_headers() -> CIMultiDict[str]:
    return CIMultiDict()


def sent_requests(m: aioresponses) -> list[Any]:
    return m.requests[("POST", URL(URL_DELETE))]
