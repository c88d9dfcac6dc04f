"""Shared fixtures: a fake ImageKit server per test; a private redis-server (tests.redis_server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bulkdel.testing import FakeImageKit
from tests.helpers import KEY
from tests.redis_server import persistent_redis_server, redis_server

__all__ = ["persistent_redis_server", "redis_server"]


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeImageKit]:
    """A fake server where every well-formed id exists once."""
    async with FakeImageKit(KEY) as server:
        yield server
