"""``bulkdel fake-server``: its options, the server they build, and the command serving until
a signal stops it."""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bulkdel.imagekit import DeleteClient
from bulkdel.models import Kind, Outcome
from bulkdel.testing import RateWindow
from bulkdel.testing.cli import add_arguments, server_from_args
from tests.helpers import hex_ids
from tests.testing.fake_http import ids


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fake-server")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_options_build_the_server_they_describe(tmp_path: Path) -> None:
    """--existing, --private-key, --window, --rate and faults reach the server built."""
    existing = tmp_path / "ids.txt"
    existing.write_text(f" {hex_ids(1)[0]} \n\n{hex_ids(1, 1)[0]}\n")
    args = parse(
        f"--existing {existing} --private-key k_0123456789 --rate 5 --window 1000/15 "
        "--window 10/0.5 --error-5xx 0.25 --permanent-error locked1 --seed 9".split()
    )
    assert args.window == [RateWindow(1000, 15.0), RateWindow(10, 0.5)]
    server = server_from_args(args)
    assert server.existing == set(hex_ids(2))
    assert server.exists(hex_ids(1)[0])
    assert not server.exists(hex_ids(1, 2)[0])
    assert server.faults.error_5xx == 0.25
    assert server.faults.permanent_errors == frozenset({"locked1"})
    assert server.faults.seed == 9
    assert server._private_key == "k_0123456789"


def test_without_existing_every_well_formed_id_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    """No --existing: every valid id exists once; the key comes from the environment."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", "env_key_0123456789")
    server = server_from_args(parse([]))
    assert server.existing is None
    assert server.exists(hex_ids(1)[0])
    assert not server.exists("not an id!")
    assert server._private_key == "env_key_0123456789"
    monkeypatch.delenv("IMAGEKIT_PRIVATE_KEY")
    assert server_from_args(parse([]))._private_key == "fake_private_key"


@pytest.mark.parametrize("window", ["1000", "a/15", "10/b", ""])
def test_a_malformed_window_is_a_usage_error(
    window: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--window that is not LIMIT/SECONDS exits 2 and shows the expected form."""
    with pytest.raises(SystemExit) as exited:
        parse(["--window", window])
    assert exited.value.code == 2
    assert f"--window takes LIMIT/SECONDS like 1000/15, got {window!r}" in capsys.readouterr().err


def test_seed_folder_gives_listable_files() -> None:
    """--seed-folder /F/=N (repeatable) seeds N files a folder; their ids exist."""
    server = server_from_args(parse(["--seed-folder", "/a/=3", "--seed-folder", "/b/c/=2"]))
    files = server.store.files
    assert len(files) == 5
    assert sorted(f.folder for f in files.values()) == ["/a/"] * 3 + ["/b/c/"] * 2
    assert server.existing == set(files)


@pytest.mark.parametrize("value", ["a/=3", "/a/=x", "/a/=-1", "/a/"])
def test_a_malformed_seed_folder_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """--seed-folder that is not /FOLDER/=N exits 2 and shows the expected form."""
    with pytest.raises(SystemExit) as exited:
        parse(["--seed-folder", value])
    assert exited.value.code == 2
    assert f"--seed-folder takes /FOLDER/=N like /tmp/=5000, got {value!r}" in (
        capsys.readouterr().err
    )


# --- command line --------------------------------------------------------------------------


def test_server_from_args_reads_every_option(tmp_path: Path) -> None:
    """The fake-server options build the server they describe."""
    existing = tmp_path / "ids.txt"
    existing.write_text("a1\n\n  b2  \n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--private-key", "k1", "--existing", str(existing), "--rate", "5",
            "--window", "100/15", "--seed", "9", "--error-5xx", "0.1",
            "--permanent-error", "a1", "--slow-seconds", "2",
        ]
    )  # fmt: skip
    server = server_from_args(args)
    assert server.existing == {"a1", "b2"}
    assert server.faults.seed == 9
    assert server.faults.error_5xx == 0.1
    assert server.faults.permanent_errors == frozenset({"a1"})
    assert server.faults.slow_seconds == 2.0
    assert server._expected_auth == "Basic " + base64.b64encode(b"k1:").decode()


def test_bad_window_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--window that is not LIMIT/SECONDS is a usage error naming the value."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--window", "fast"])
    assert "'fast'" in capsys.readouterr().err


async def test_fake_server_command_serves_and_stops_on_sigterm() -> None:
    """`python -m bulkdel fake-server --port 0` prints its URL, answers, exits 0 on SIGTERM."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bulkdel", "fake-server", "--port", "0", "--private-key", "k",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"fake ImageKit listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match.group(2)) > 0
        async with DeleteClient("k", base_url=match.group(1)) as client:
            outcome = await client.delete_batch(ids(2))
        assert outcome == Outcome(Kind.SUCCESS, 200, deleted=tuple(ids(2)))
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "'200': 1" in err.decode()
