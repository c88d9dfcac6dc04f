"""``--metrics-port N``: ``/metrics`` for Prometheus while ``delete`` or ``job worker`` runs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping

from ..telemetry.observer import RunObserver


def metrics_port(text: str) -> int:
    """A TCP port, 0..65535 (0: any free one, printed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0..65535, got {value}")
    return value


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-host``."""
    parser.add_argument(
        "--metrics-port",
        type=metrics_port,
        metavar="N",
        help="serve Prometheus metrics on http://HOST:N/metrics while running "
        "(needs pip install 'bulkdel[prometheus]')",
    )
    parser.add_argument(
        "--metrics-host",
        default="0.0.0.0",
        metavar="HOST",
        help="the address --metrics-port listens on (default: every interface)",
    )


@contextlib.contextmanager
def serving_metrics(
    args: argparse.Namespace, labels: Mapping[str, str] | None = None
) -> Iterator[list[RunObserver]]:
    """The observers that feed ``/metrics`` (none without ``--metrics-port``), served until
    the block ends.

    Raises:
        UsageError: the port cannot be listened on, or prometheus_client is missing.
    """
    if getattr(args, "metrics_port", None) is None:
        yield []
        return
    from ..telemetry.prometheus import MetricsServer
    from ..telemetry.stats import RunStats

    stats = RunStats()
    server = MetricsServer(stats, args.metrics_port, host=args.metrics_host, labels=labels)
    print(f"bulkdel: metrics on {server.url}", file=sys.stderr)
    try:
        yield [stats]
    finally:
        server.close()
