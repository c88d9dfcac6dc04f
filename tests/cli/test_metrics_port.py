"""``bulkdel delete --metrics-port``: a real subprocess scraped mid-run; silly ports exit 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bulkdel.testing import FakeImageKit
from tests.helpers import KEY, ThreadedServer, hex_ids, run_cli, write_ids


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == name and wanted <= have)


def scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def test_a_scrape_mid_run_shows_the_runs_figures(tmp_path: Path) -> None:
    """Mid-run, /metrics holds the ids deleted so far (10 per 200, the batch size), the pace
    and ceiling of --rate, one request timed per request counted; the run ends complete, and
    its final figures are served until scraped once (fails before: the endpoint died with
    the run, and the last scrape missed its end)."""
    ids = hex_ids(3000)
    source = write_ids(tmp_path / "ids.txt", ids)
    port = free_port()
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY}
    with ThreadedServer(FakeImageKit(KEY)) as server:
        command = [
            sys.executable, "-m", "bulkdel", "delete", str(source), "--base-url", server.url,
            "--report-dir", str(tmp_path / "report"), "--metrics-port", str(port),
            "--metrics-host", "127.0.0.1", "--rate", "100", "--batch-size", "10", "--yes",
        ]  # fmt: skip
        process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        mid: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            text = scrape(port)
            found = samples(text) if text else {}
            if 300 <= total(found, "bulkdel_ids_total", outcome="deleted") <= 2000:
                mid = found
                break
            time.sleep(0.05)
        # The run ends, prints its summary, then serves its final figures until scraped.
        assert process.stderr is not None
        said = []
        while not (said and "serving the final figures" in said[-1]):
            line = process.stderr.readline()
            assert line, "".join(said)  # before: the endpoint ended with the run
            said.append(line)
        final_text = None
        deadline = time.monotonic() + 10  # it lingers 15 s: a scrape that timed out retries
        while final_text is None and time.monotonic() < deadline:
            final_text = scrape(port)
        final = samples(final_text or "")
        _, stderr = process.communicate(timeout=60)
        stderr = "".join(said) + stderr
    assert process.returncode == 0, stderr
    assert total(final, "bulkdel_ids_total", outcome="deleted") == 3000
    assert total(final, "bulkdel_runs_active") == 0
    assert f"bulkdel: metrics on http://127.0.0.1:{port}/metrics" in stderr
    assert mid, "no scrape caught the run in the middle"
    deleted = total(mid, "bulkdel_ids_total", outcome="deleted")
    answered = total(mid, "bulkdel_requests_total", kind="delete", status="200")
    assert 10 * (answered - 8) <= deleted <= 10 * answered  # 8 in flight
    assert total(mid, "bulkdel_ids_total", outcome="failed") == 0
    assert total(mid, "bulkdel_budget_pace_requests_per_second") == 100
    assert total(mid, "bulkdel_budget_ceiling_requests_per_second") == 100
    assert total(mid, "bulkdel_runs_active") == 1
    timed = total(mid, "http_client_request_duration_seconds_count", http_request_method="POST")
    assert timed == total(mid, "bulkdel_requests_total", kind="delete")
    assert total(mid, "bulkdel_ids_unique_total") <= 3000
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["counts"]["deleted"] == 3000


@pytest.mark.parametrize("port", ["-1", "70000", "http"])
def test_a_silly_port_is_a_usage_error(tmp_path: Path, port: str) -> None:
    """-1, 70000 or a word: exit 2 with one line naming the option, nothing read."""
    done = run_cli(
        ["delete", str(write_ids(tmp_path / "ids.txt", hex_ids(3))), "--metrics-port", port]
    )
    assert done.returncode == 2
    # the one wording of option errors: "--option must be ..."
    assert done.stderr.startswith("bulkdel: error: --metrics-port must be a port")
    assert "Traceback" not in done.stderr


def test_a_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    """A port another process listens on: exit 2 before anything is sent."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with ThreadedServer(FakeImageKit(KEY)) as server:
            done = run_cli(
                ["delete", str(write_ids(tmp_path / "ids.txt", hex_ids(3))), "--yes",
                 "--base-url", server.url, "--metrics-port", str(port),
                 "--metrics-host", "127.0.0.1", "--report-dir", str(tmp_path / "r")]
            )  # fmt: skip
            sent = server.stats.requests
    assert done.returncode == 2, done.stderr
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert sent == 0


def test_a_worker_port_is_checked_too() -> None:
    """``job worker --metrics-port 70000`` exits 2 before Redis or the API is asked."""
    done = run_cli(["job", "worker", "--job", "j", "--metrics-port", "70000"])
    assert done.returncode == 2
    assert "--metrics-port must be a port number 0..65535, got 70000" in done.stderr


def test_metrics_listen_on_loopback_unless_asked() -> None:
    """Job names and rates stay on this host by default: ``--metrics-host`` is loopback."""
    from bulkdel.cli.parser import build_parser

    for command in (["delete"], ["job", "worker", "--job", "j"]):
        args = build_parser().parse_args([*command, "--metrics-port", "0"])
        assert args.metrics_host == "127.0.0.1"


@pytest.mark.parametrize("linger", ["-1", "x", "nan", "1e9"])
def test_a_silly_linger_is_a_usage_error(tmp_path: Path, linger: str) -> None:
    """``--metrics-linger`` takes 0..3600 seconds; anything else exits 2 with one line."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(3))
    done = run_cli(["delete", str(source), "--metrics-port", "0", "--metrics-linger", linger])
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--metrics-linger" in done.stderr
