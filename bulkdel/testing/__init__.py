"""Test helpers shipped with bulkdel: a fake ImageKit server for your own tests."""

from __future__ import annotations

from .fake_server import FakeImageKit, Faults, RateWindow, ServerStats

__all__ = ["FakeImageKit", "Faults", "RateWindow", "ServerStats"]
