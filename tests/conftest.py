"""Shared fixtures: fake ImageKit servers, on the test's loop (``fake_server``, ``make_fake``)
or in a thread of their own (``served``, ``make_served``); a private redis-server
(tests.redis_server)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer
from tests.redis_server import persistent_redis_server, redis_server

__all__ = ["persistent_redis_server", "redis_server"]

# Hypothesis's per-example deadline and its "too slow" health check (data generation over a
# time budget) are time limits, and the suite asserts no time: on a machine whose cores are
# busy an example may take seconds without anything being wrong. A test that sets its own
# suppressed checks names too_slow again (its list replaces this one).
settings.register_profile(
    "busy_machine", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("busy_machine")


@pytest.fixture(scope="session", autouse=True)
def _outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The suite runs in a working directory of its own: a command's default report or
    worker record directory (``./bulkdel-...``) never lands in the checkout. Its
    subprocesses import this checkout's bulkdel first, whatever the install (a strict
    editable install's link tree lacks a module added since)."""
    here = Path.cwd()
    work = tmp_path_factory.mktemp("cwd")
    checkout = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = checkout if not path else f"{checkout}{os.pathsep}{path}"
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(here)
        if path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = path


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeImageKit]:
    """A fake server where every well-formed id exists once."""
    async with FakeImageKit(KEY) as server:
        yield server


@pytest.fixture
async def make_fake() -> AsyncIterator[Callable[..., Awaitable[FakeImageKit]]]:
    """``await make_fake(files=..., faults=...)``: a fake server with the test key and those
    options, started; every one made is stopped when the test ends."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**options: Any) -> FakeImageKit:
            return await stack.enter_async_context(FakeImageKit(KEY, **options))

        yield make


@pytest.fixture
def served() -> Iterator[ThreadedServer]:
    """A fake server (every well-formed id exists once) in its own thread, for code that
    blocks (the CLI in-process, subprocesses) while the test reads the server's truth."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded:
        yield threaded


@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key in the environment; no base URL or URL endpoint from it."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)
    monkeypatch.delenv("IMAGEKIT_URL_ENDPOINT", raising=False)


@pytest.fixture
def make_served() -> Iterator[Callable[..., ThreadedServer]]:
    """``make_served(existing=..., faults=...)``: ``served`` with those options (the fake's
    own ``.server``, its ``.url``); every one made is stopped when the test ends."""
    with contextlib.ExitStack() as stack:

        def make(**options: Any) -> ThreadedServer:
            threaded = ThreadedServer(FakeImageKit(KEY, **options))
            stack.enter_context(threaded)
            return threaded

        yield make
