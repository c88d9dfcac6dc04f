"""Fixtures of the fake server's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bulkdel.imagekit import DeleteClient
from bulkdel.testing import FakeImageKit
from tests.helpers import KEY


@pytest.fixture
async def client(fake_server: FakeImageKit) -> AsyncIterator[DeleteClient]:
    """A client with the right key for ``fake_server``."""
    async with DeleteClient(KEY, base_url=fake_server.url) as c:
        yield c
