"""A fleet is scraped worker by worker: two real ``job worker`` processes on one Redis, each
serving ``--metrics-port``, each series labelled with its worker and job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.testing import FakeImageKit
from tests.cli.test_metrics_port import free_port, samples, scrape, total
from tests.helpers import KEY, ThreadedServer, hex_ids, write_ids
from tests.redis_server import RedisServer


def test_two_workers_each_serve_their_own_labelled_figures(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mid-run, each worker's /metrics carries its own ``worker`` label and the job's; what
    the two deleted adds up to the job's ids at the end."""
    env = {**os.environ, "IMAGEKIT_PRIVATE_KEY": KEY, "BULKDEL_REDIS_URL": redis_server.url}
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BULKDEL_REDIS_URL", redis_server.url)
    source = write_ids(tmp_path / "ids.txt", hex_ids(4000))
    with ThreadedServer(FakeImageKit(KEY)) as server:
        url = ["--base-url", server.url]
        assert (
            cli.main(["job", "submit", str(source), "--job", "m", "--batch-size", "10", *url]) == 0
        )
        ports = {"w1": free_port(), "w2": free_port()}
        workers = {
            name: subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bulkdel",
                    "job",
                    "worker",
                    "--job",
                    "m",
                    "--name",
                    name,
                    "--rate",
                    "100",
                    "--metrics-port",
                    str(port),
                    "--metrics-host",
                    "127.0.0.1",
                    *url,
                ],
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, port in ports.items()
        }
        last: dict[str, dict[tuple[str, frozenset[tuple[str, str]]], float]] = {}
        seen_live: set[str] = set()
        deadline = time.monotonic() + 60
        while any(w.poll() is None for w in workers.values()) and time.monotonic() < deadline:
            for name, port in ports.items():
                text = scrape(port)
                if text:
                    last[name] = samples(text)
                    if total(last[name], "bulkdel_ids_total", outcome="deleted") > 0:
                        seen_live.add(name)
            time.sleep(0.05)
        errors = {name: w.communicate(timeout=60)[1] for name, w in workers.items()}
        codes = {name: w.returncode for name, w in workers.items()}
    assert codes == {"w1": 0, "w2": 0}, errors
    assert seen_live == {"w1", "w2"}
    for name, found in last.items():
        for _, labels in found:
            assert {("worker", name), ("bulkdel_job", "m")} <= labels
    deleted = sum(total(found, "bulkdel_ids_total", outcome="deleted") for found in last.values())
    assert 0 < deleted <= 4000
    for name in ports:
        assert f"bulkdel: worker {name}:" in errors[name]
