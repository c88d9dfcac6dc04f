"""``bulkdel fake-server`` options: parsing and the server they build."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bulkdel.testing import RateWindow
from bulkdel.testing.cli import add_arguments, server_from_args
from tests.helpers import hex_ids


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
