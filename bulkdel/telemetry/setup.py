"""Which observers a run gets: the caller's, OpenTelemetry's, and logging's."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .logs import LOG, LogObserver
from .observer import RunObserver, combine

if TYPE_CHECKING:  # opentelemetry is an extra: never imported here at run time
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider


def run_observer(
    observers: Sequence[RunObserver] = (),
    *,
    meter_provider: MeterProvider | None = None,
    tracer_provider: TracerProvider | None = None,
    attributes: Mapping[str, str] | None = None,
) -> RunObserver:
    """The one observer of a run.

    Args:
        observers: the caller's own (``RunEvents``, ``RunStats``...).
        meter_provider, tracer_provider: OpenTelemetry's providers. When neither is given,
            the API's global ones are used if the application has imported opentelemetry
            (where an SDK would be set up), and nothing of it otherwise: bulkdel never
            imports it on its own.
        attributes: OpenTelemetry attributes of every point and of the run's span.

    The ``bulkdel.run`` logger is added when it is enabled for INFO.
    """
    found = list(observers)
    wanted = meter_provider is not None or tracer_provider is not None
    if wanted or "opentelemetry" in sys.modules:
        from .otel import OtelObserver

        found.append(OtelObserver(meter_provider, tracer_provider, attributes))
    if LOG.isEnabledFor(logging.INFO):
        found.append(LogObserver())
    return combine(found)
