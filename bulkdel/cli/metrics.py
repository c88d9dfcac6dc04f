"""``--metrics-port N``: ``/metrics`` for Prometheus while ``delete`` or ``job worker`` runs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Final

from .values import number

if TYPE_CHECKING:
    from ..telemetry.observer import RunObserver
    from ..telemetry.prometheus import MetricsServer
    from .options import MetricsOptions

#: seconds a run's metrics stay served after it, waiting for the final scrape: Prometheus's
#: default scrape interval is 15 s
LINGER: Final = 15.0
_LINGERING: list[tuple[MetricsServer, float]] = []


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
        default="127.0.0.1",
        metavar="HOST",
        help="the address --metrics-port listens on (0.0.0.0: every interface)",
    )
    parser.add_argument(
        "--metrics-linger",
        type=number(0, 3600, low_open=False),
        default=LINGER,
        metavar="SECONDS",
        help="after the run, serve the final figures until scraped once, at most this long "
        "(0: stop at once)",
    )


@contextlib.contextmanager
def serving_metrics(
    options: MetricsOptions, labels: Mapping[str, str] | None = None
) -> Iterator[list[RunObserver]]:
    """The observers that feed ``/metrics`` (none without ``--metrics-port``), served until
    the block ends.

    Raises:
        UsageError: the port cannot be listened on, or prometheus_client is missing.
    """
    if options.port is None:
        yield []
        return
    from ..telemetry.prometheus import MetricsServer
    from ..telemetry.stats import RunStats

    stats = RunStats()
    server = MetricsServer(stats, options.port, host=options.host, labels=labels)
    print(f"bulkdel: metrics on {server.url}", file=sys.stderr)
    try:
        yield [stats]
    finally:
        if options.linger > 0:
            _LINGERING.append((server, options.linger))  # served on after the summary is printed
        else:
            server.close()


def serve_final_metrics() -> None:
    """Once the command has said its last word: serve each run's final figures until they
    are scraped once (``--metrics-linger``), then stop; a Ctrl-C stops at once."""
    while _LINGERING:
        server, linger = _LINGERING.pop()
        try:
            print(
                f"bulkdel: metrics: serving the final figures on {server.url} until scraped "
                f"(at most {linger:g} s; Ctrl-C ends)",
                file=sys.stderr,
            )
            server.final_scrape(linger)
        except KeyboardInterrupt:
            pass
        finally:
            server.close()
