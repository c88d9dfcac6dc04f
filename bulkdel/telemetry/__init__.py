"""Following a run: one small interface the engine calls, and what implements it.

* ``RunObserver``: the interface (no-op methods; ``observer.py`` says what is called when);
* ``RunEvents``: progress snapshots (counts, pace, ETA) and batch outcomes, as an async
  iterator or callbacks, for the embedding code;
* ``RunStats``: the figures kept in plain Python; ``MetricsServer`` serves them to
  Prometheus (``bulkdel[prometheus]``);
* ``OtelObserver``: OpenTelemetry metrics and spans (``bulkdel[otel]``); a run gets one by
  itself from ``meter_provider=``/``tracer_provider=``;
* ``LogObserver``: ``logging`` with structured ``extra`` fields (logger ``bulkdel.run``).

Exports are imported on first use: ``import bulkdel.telemetry`` imports no opentelemetry and
no prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_getattr

if TYPE_CHECKING:
    from .events import BatchDone, Progress, RunEvents
    from .logs import LogObserver
    from .observer import Attempt, BatchTally, Observers, RunObserver, RunView
    from .otel import OtelObserver
    from .prometheus import MetricsServer
    from .setup import run_observer
    from .stats import RunStats

_LAZY: dict[str, str] = {
    "Attempt": ".observer",
    "BatchDone": ".events",
    "BatchTally": ".observer",
    "LogObserver": ".logs",
    "MetricsServer": ".prometheus",
    "Observers": ".observer",
    "OtelObserver": ".otel",
    "Progress": ".events",
    "RunEvents": ".events",
    "RunObserver": ".observer",
    "RunStats": ".stats",
    "RunView": ".observer",
    "run_observer": ".setup",
}

__getattr__ = lazy_getattr(__name__, _LAZY, globals())

__all__ = [
    "Attempt",
    "BatchDone",
    "BatchTally",
    "LogObserver",
    "MetricsServer",
    "Observers",
    "OtelObserver",
    "Progress",
    "RunEvents",
    "RunObserver",
    "RunStats",
    "RunView",
    "run_observer",
]
