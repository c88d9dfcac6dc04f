"""Test helpers shipped with bulkdel: a fake ImageKit server for your own tests."""

from __future__ import annotations

from .fake_limits import LimitHeaders, RateWindow
from .fake_listing import FakeFile, seed_files
from .fake_server import FakeImageKit, Faults, ServerStats

__all__ = [
    "FakeFile",
    "FakeImageKit",
    "Faults",
    "LimitHeaders",
    "RateWindow",
    "ServerStats",
    "seed_files",
]
