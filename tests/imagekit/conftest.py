"""Fixtures of the client tests: aioresponses, and a client of the mocked API."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from bulkdel.imagekit import DeleteClient
from tests.imagekit.wire import BASE, KEY, CompatResponse


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[aioresponses]:
    """aioresponses, letting requests to loopback (the fake server) through."""
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", CompatResponse)
    with aioresponses(passthrough=["http://127.0.0.1"]) as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[DeleteClient]:
    """A client for the mocked BASE."""
    async with DeleteClient(KEY, base_url=BASE) as c:
        yield c
