"""Test helpers shipped with bulkdel: a fake ImageKit server for your own tests."""

from __future__ import annotations

from .fake_listing import FakeFile, seed_files
from .fake_server import FakeImageKit, Faults, RateWindow, ServerStats

__all__ = ["FakeFile", "FakeImageKit", "Faults", "RateWindow", "ServerStats", "seed_files"]
