"""``bulkdel`` run in-process through ``cli.main``: the confirmation prompt, and signals and
cancellation while a run is under way (the fake server runs in its own thread)."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest

from bulkdel import cli
from bulkdel.cli.delete import run_with_signals
from bulkdel.testing import Faults
from tests.helpers import (
    KEY,
    MakeFake,
    MakeServed,
    ThreadedServer,
    check_ground_truth,
    check_report_dir,
    delete_args,
    hex_ids,
    on_a_terminal,
    signal_when,
    write_ids,
)

# -- the confirmation prompt -------------------------------------------------------------------


@pytest.mark.usefixtures("env_key")
@pytest.mark.parametrize("answer", ["no\n", "", "maybe\n"])
def test_a_terminal_user_who_does_not_say_yes_deletes_nothing(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
) -> None:
    """Above the threshold on a terminal, 'no', end of input or anything but yes: exit 2,
    no delete sent, no report; the prompt says how many files at most and where from."""
    source = write_ids(tmp_path / "ids.txt", hex_ids(cli.CONFIRM_ABOVE + 1))
    on_a_terminal(monkeypatch, answer)
    code = cli.main(delete_args(source, served.url, tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE
    assert f"about to delete up to 1,001 files listed in {source} from {served.url}" in err
    assert err.endswith("bulkdel: nothing deleted.\n")
    stats = served.server.stats
    assert stats.requests == stats.list_requests == 1  # the preflight; no delete sent
    assert not (tmp_path / "r").exists()


@pytest.mark.usefixtures("env_key")
@pytest.mark.parametrize("answer", ["yes\n", " Y \n"])
def test_a_terminal_user_who_says_yes_goes_on_with_progress(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
) -> None:
    """Answering yes runs the job; the progress line is cleared from the terminal at the end."""
    ids = hex_ids(cli.CONFIRM_ABOVE + 1)
    source = write_ids(tmp_path / "ids.txt", ids)
    on_a_terminal(monkeypatch, answer)
    code = cli.main(delete_args(source, served.url, tmp_path / "r"))
    err = capsys.readouterr().err
    assert code == cli.EXIT_OK, err
    assert "Type 'yes' to go on" in err
    assert "\r\033[K" in err  # the progress display ran and cleared its line
    assert served.server.deleted == set(ids)


@pytest.mark.usefixtures("env_key")
def test_no_prompt_with_yes_or_dry_run_or_below_the_threshold(
    tmp_path: Path,
    served: ThreadedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--yes and --dry-run never ask, even on a terminal; nor does an input of at most
    CONFIRM_ABOVE lines."""
    big = write_ids(tmp_path / "big.txt", hex_ids(cli.CONFIRM_ABOVE + 1))
    small = write_ids(tmp_path / "small.txt", hex_ids(cli.CONFIRM_ABOVE, 5000))
    for n, extra in enumerate(
        [(str(big), "--yes"), (str(big), "--dry-run"), (str(small), "--json")]
    ):
        on_a_terminal(monkeypatch, "no\n")
        code = cli.main(
            ["delete", *extra, "--base-url", served.url, "--report-dir", str(tmp_path / f"r{n}")]
        )
        err = capsys.readouterr().err
        assert code == cli.EXIT_OK, (extra, err)
        assert "Type 'yes'" not in err, extra
    assert served.server.deleted == set(hex_ids(cli.CONFIRM_ABOVE + 1)) | set(
        hex_ids(cli.CONFIRM_ABOVE, 5000)
    )


# -- signals -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("env_key")
def test_first_sigint_settles_in_flight_and_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_served: MakeServed
) -> None:
    """SIGINT mid-run: requests in flight settle, the report adds up, exit 130."""
    ids = hex_ids(5000)
    threaded = make_served(faults=Faults(latency=0.05))
    server = threaded.server
    source = write_ids(tmp_path / "ids.txt", ids)
    # Ids are deleted only once the run (and so its signal handler) has started.
    thread = signal_when(lambda: server.stats.ids_deleted >= 100, [signal.SIGINT])
    code = cli.main(
        delete_args(source, threaded.url, tmp_path / "r", "--rate", "20", "--batch-size", "10")
    )
    thread.join()
    err = capsys.readouterr().err
    assert code == cli.EXIT_INTERRUPTED
    assert "bulkdel: stopping: letting requests in flight settle" in err
    summary = check_report_dir(tmp_path / "r")
    check_ground_truth(tmp_path / "r", server)
    assert summary["aborted"] == "interrupted by SIGINT"
    assert summary["counts"]["not_attempted"] > 0
    assert summary["counts"]["failed"] == 0  # in-flight requests were answered, not cut off
    assert summary["counts"]["deleted"] == len(server.deleted)


@pytest.mark.usefixtures("env_key")
def test_second_signal_stops_at_once_and_still_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_served: MakeServed
) -> None:
    """SIGTERM then SIGINT: the run is cancelled without waiting for slow answers, exit 130,
    and the report still accounts for every id."""
    ids = hex_ids(3000)
    threaded = make_served(faults=Faults(latency=5.0))
    server = threaded.server
    source = write_ids(tmp_path / "ids.txt", ids)
    # Requests are in flight (held 5 s by the server) once it counts them.
    thread = signal_when(lambda: server.stats.in_flight >= 2, [signal.SIGTERM, signal.SIGINT])
    started = time.monotonic()
    code = cli.main(
        delete_args(
            source,
            threaded.url,
            tmp_path / "r",
            "--concurrency",
            "2",
            "--json",
            "--no-preflight",
        )
    )
    elapsed = time.monotonic() - started
    thread.join()
    out = capsys.readouterr().out
    assert code == cli.EXIT_INTERRUPTED
    assert elapsed < 4.5, "the second signal did not stop the run at once"
    summary = check_report_dir(tmp_path / "r")
    assert json.loads(out) == summary
    assert summary["aborted"] == "interrupted by SIGTERM"
    counts = summary["counts"]
    assert counts["unique"] == 3000
    # the two batches on the wire may have been applied: they fail as outcome unknown
    assert counts["failed"] == 200
    assert counts["deleted"] == 0


async def test_cancelling_the_run_without_a_signal_propagates(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """Cancelled from outside (not by a second signal) while still reading, the run
    re-raises the cancellation and still leaves an accounted report saying so."""
    from bulkdel import BulkDeleter, Settings
    from bulkdel.engine.sources import open_files

    source = write_ids(tmp_path / "ids.txt", hex_ids(5000))  # more than the pool holds
    server = await make_fake(faults=Faults(latency=5.0))
    deleter = BulkDeleter(
        KEY, settings=Settings(base_url=server.url, concurrency=1), report_dir=tmp_path / "r"
    )
    task = asyncio.ensure_future(
        run_with_signals(deleter, open_files([str(source)]), show_progress=False)
    )
    while server.stats.in_flight == 0:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    summary = check_report_dir(tmp_path / "r")
    assert summary["aborted"] == "cancelled"
    assert summary["complete"] is False
    assert summary["counts"]["failed"] == 100  # the batch on the wire: outcome unknown
    assert summary["counts"]["not_attempted"] > 0
