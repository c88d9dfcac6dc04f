"""Shared fixtures: a fake ImageKit server per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bulkdel.testing import FakeImageKit

KEY = "private_test_key_0123456789"


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeImageKit]:
    """A fake server where every well-formed id exists once."""
    async with FakeImageKit(KEY) as server:
        yield server
