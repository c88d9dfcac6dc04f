"""What the command line says of a run: an all-invalid input, a dry run, the demo's check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulkdel import cli
from tests.helpers import KEY, check_report_dir, hex_ids, write_ids

INVALID_INPUTS = {
    "urls.txt": b"https://ik.imagekit.io/demo/a.jpg\nhttps://ik.imagekit.io/demo/b.jpg\n",
    "quoted.txt": b"\"0123456789abcdef01234567\"\n'0123456789abcdef01234568'\n",
    "binary.bin": bytes(range(256)) * 8,
}


@pytest.mark.parametrize("name", sorted(INVALID_INPUTS))
def test_an_input_without_one_valid_id_exits_2(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """URLs, quoted ids, a binary file: exit 2 with a line saying no valid id was read."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    source = tmp_path / name
    source.write_bytes(INVALID_INPUTS[name])
    report = tmp_path / "r"
    argv = ["delete", str(source), "--dry-run", "--report-dir", str(report)]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "bulkdel: NO VALID ID — none of the " in err
    summary = check_report_dir(report)
    assert summary["counts"]["unique"] == 0 and summary["counts"]["invalid"] > 0
    assert summary["aborted"].startswith("no valid id")


def test_a_dry_run_says_nothing_was_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--dry-run` exits 0 headed `bulkdel: dry run — nothing sent`, not INCOMPLETE."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    source = write_ids(tmp_path / "ids.txt", hex_ids(3))
    code = cli.main(["delete", str(source), "--dry-run", "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK
    assert err.splitlines()[0] == "bulkdel: dry run — nothing sent"
    assert "INCOMPLETE" not in err


def test_the_demo_checks_itself_against_its_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulkdel demo` exits 0 when every id is in the bucket its fake server's truth says,
    and says so in a line."""
    code = cli.main(["demo", "--ids", "1500", "--report-dir", str(tmp_path / "r"), "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["counts"]["failed"] == 5
    assert code == cli.EXIT_OK
    assert (
        "bulkdel demo: every id checked against the fake server (5 locked files failed)\n"
        in captured.err
    )


def test_the_demo_names_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report that disagrees with the server's truth exits 1 naming the bucket."""
    from bulkdel.cli import demo as demo_module

    real = demo_module.compare

    def skewed(report_dir: Path, truth: demo_module.Truth) -> list[str]:
        truth.deleted.discard(next(iter(sorted(truth.deleted))))
        return real(report_dir, truth)

    monkeypatch.setattr(demo_module, "compare", skewed)
    code = cli.main(["demo", "--ids", "300", "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_INCOMPLETE
    assert "bulkdel demo: MISMATCH — deleted.txt: 1 id the server did not delete" in err


def test_a_long_head_line_fits_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refusal's head line is wrapped to the terminal's 80 columns, the option named whole."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    source = write_ids(tmp_path / "ids.txt", hex_ids(12))
    argv = ["delete", str(source), "--dry-run", "--max-delete", "10"]
    code = cli.main([*argv, "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    head = err.split("\n  read ")[0].splitlines()
    assert len(head) > 1 and all(len(line) < 80 for line in head), head
    assert head[0].startswith("bulkdel: dry run — nothing sent — aborted: refused:")
    assert all(line.startswith("  ") for line in head[1:])
    assert " ".join(line.strip() for line in head).endswith(
        "the input holds more than 10 unique ids (--max-delete); nothing was sent"
    )
