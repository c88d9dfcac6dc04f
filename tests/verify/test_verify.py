"""``bulkdel verify`` end to end against the fake: a clean run holds; planted discrepancies
are listed, exactly; the sample's confidence; a key of another account is refused."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest

from bulkdel.core.sampling import count_lines, sample_ids, upper_bound
from bulkdel.testing import FakeFile, FakeImageKit, seed_files
from bulkdel.testing.fake_server import Faults
from tests.helpers import KEY, MakeServed, ThreadedServer, hex_ids, read_lines, run_cli, write_ids

LOCKED = f"{1:024x}"


def selector_run(url: str, report_dir: Path) -> None:
    result = run_cli(["delete", "--path", "/v/", "--recursive", "--base-url", url,
                      "--report-dir", str(report_dir), "--yes", "--quiet"])  # fmt: skip
    assert result.returncode == 1, result.stderr  # the locked file failed


def verify(report_dir: Path, *extra: str, key: str = KEY) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    result = run_cli(["verify", str(report_dir), *extra], key=key)
    path = report_dir / "verify.json"
    return result.returncode, json.loads(path.read_text()) if path.exists() else {}, result.stderr


def test_a_clean_run_verifies_and_planted_discrepancies_are_listed_exactly(
    tmp_path: Path,
) -> None:
    """verify passes on a clean run; then a 'deleted' id that exists again, a 'failed' id
    that is gone and a file the selector should have caught are exactly the discrepancies;
    a file uploaded after the run is reported apart."""
    files = seed_files({"/v/": 1500, "/v/sub/": 300, "/w/": 40})
    server = FakeImageKit(KEY, files=files, faults=Faults(permanent_errors=frozenset({LOCKED})))
    threaded = ThreadedServer(server)
    with threaded:
        selector_run(threaded.url, tmp_path / "r")
        code, clean, err = verify(tmp_path / "r")
        assert code == 0, err
        assert clean["ok"] is True and clean["discrepancies"] == []
        assert clean["deleted"]["checked"] == clean["deleted"]["reported"] == 1799
        assert clean["failed"] == {"reported": 1, "checked": 1, "gone": 0}
        assert clean["selection"]["checked"] is True and clean["selection"]["found"] == 1
        assert "every check holds" in err
        by_id = {f.file_id: f for f in files}
        deleted = read_lines(tmp_path / "r" / "deleted.txt")
        back = by_id[deleted[10]]  # (1) reported deleted, still there
        server.store.add([back])
        assert server.existing is not None
        server.existing.add(back.file_id)
        server.store.discard([LOCKED])  # (2) reported failed, gone
        server.existing.discard(LOCKED)
        before = files[0].created_at - dt.timedelta(days=1)
        missed = FakeFile(f"{9_000_001:024x}", "/v/sub/missed.jpg", before)  # (3)
        later = FakeFile(f"{9_000_002:024x}", "/v/late.jpg", dt.datetime.now(dt.UTC))
        server.store.add([missed, later])
        server.existing |= {missed.file_id, later.file_id}
        code, found, err = verify(tmp_path / "r")
    assert code == 1, err
    assert found["ok"] is False
    assert {(d["kind"], d["fileId"]) for d in found["discrepancies"]} == {
        ("deleted_but_exists", back.file_id),
        ("failed_but_gone", LOCKED),
        ("selector_missed", missed.file_id),
    }
    assert found["discrepancy_count"] == 3 and found["unchecked"] == []
    assert found["created_after_run"] == [later.file_id]
    assert "3 DISCREPANCIES" in err and missed.file_id in err and LOCKED in err


def test_a_sample_states_its_confidence(tmp_path: Path, make_served: MakeServed) -> None:
    """--sample N checks N ids drawn at random and states the bound at 95%."""
    ids = hex_ids(5000)
    report = tmp_path / "r"
    report.mkdir()
    write_ids(report / "deleted.txt", ids)
    (report / "summary.json").write_text(json.dumps({"counts": {"deleted": 5000}}))
    threaded = make_served(existing=[])
    server = threaded.server
    code, found, err = verify(report, "--sample", "200", "--base-url", threaded.url)
    assert server.stats.details_requests == 200
    assert code == 0, err
    assert found["deleted"]["checked"] == 200 and found["deleted"]["sampled"] is True
    assert found["deleted"]["at_most_still_exist"] == upper_bound(5000, 200)
    assert "with 95% confidence at most" in err


def test_verify_refuses_another_account_and_a_non_report(tmp_path: Path) -> None:
    """A key whose fingerprint is not the run's is refused (its 404s would prove nothing);
    a directory without summary.json and a silly --sample are usage errors."""
    report = tmp_path / "r"
    report.mkdir()
    summary = {"counts": {}, "audit": {"account": {"base_url": "http://127.0.0.1:9",
                                                    "key_fingerprint": "sha256:0"}}}  # fmt: skip
    (report / "summary.json").write_text(json.dumps(summary))
    code, _, err = verify(report)
    assert code == 2 and "not the one the run used" in err and KEY not in err
    code, _, err = verify(tmp_path)
    assert code == 2 and "has no summary.json" in err
    for silly in ("0", "-3", "lots"):
        code, _, err = verify(report, "--sample", silly)
        assert code == 2 and "Traceback" not in err


def test_a_server_that_keeps_failing_leaves_ids_unchecked(tmp_path: Path) -> None:
    """Ids no answer settles are unchecked, never passed: exit 1."""
    report = tmp_path / "r"
    report.mkdir()
    write_ids(report / "deleted.txt", hex_ids(3))
    (report / "summary.json").write_text(json.dumps({"counts": {"deleted": 3}}))
    threaded = ThreadedServer(FakeImageKit(KEY, faults=Faults(error_5xx=1.0)))
    with threaded:
        code, found, _ = verify(report, "--base-url", threaded.url, "--max-attempts", "2")
    assert code == 1
    assert found["ok"] is False and found["unchecked_count"] == 3
    assert found["discrepancies"] == []


def test_sampling_counts_draws_and_bounds(tmp_path: Path) -> None:
    """count_lines and sample_ids read a list in full; the bound matches the hypergeometric
    figure (about the rule of three) and is 0 for a full check."""
    path = write_ids(tmp_path / "ids.txt", hex_ids(1000))
    assert count_lines(path) == 1000
    picked, total = sample_ids(path, 50, random.Random(1))
    assert total == 1000 and len(set(picked)) == 50 and set(picked) <= set(hex_ids(1000))
    assert sample_ids(path, 5000, random.Random(1)) == (hex_ids(1000), 1000)
    assert upper_bound(1_000_000, 1000) == pytest.approx(2990, abs=5)
    assert upper_bound(100, 100) == 0
    assert upper_bound(10, 1) == 9


def test_a_refused_key_aborts_with_exit_3(tmp_path: Path, served: ThreadedServer) -> None:
    """A 403 on the details endpoint stops verify at once: exit 3, nothing passed."""
    report = tmp_path / "r"
    report.mkdir()
    write_ids(report / "deleted.txt", hex_ids(20))
    (report / "summary.json").write_text(json.dumps({"counts": {"deleted": 20}}))
    threaded = served
    server = threaded.server
    code, found, err = verify(report, "--base-url", threaded.url, key="another_key_0123456")
    assert server.stats.details_requests <= 8  # one a worker at most
    assert code == 3, err
    assert found["ok"] is False and found["aborted"].startswith("fatal: details: HTTP 403")
    assert "Traceback" not in err and "another_key_0123456" not in err


def test_verify_in_process_finds_a_planted_discrepancy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same checks run inside this process (``bulkdel.cli.main``): a clean run holds,
    whole and sampled; a 'deleted' id that exists again is the one discrepancy."""
    from bulkdel import cli

    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    files = seed_files({"/v/": 300, "/v/sub/": 50})
    server = FakeImageKit(KEY, files=files, faults=Faults(permanent_errors=frozenset({LOCKED})))
    with ThreadedServer(server) as threaded:
        selector_run(threaded.url, tmp_path / "r")
        assert cli.main(["verify", str(tmp_path / "r")]) == 0, capsys.readouterr().err
        assert cli.main(["verify", str(tmp_path / "r"), "--sample", "50"]) == 0
        assert "every check holds" in capsys.readouterr().err
        deleted = read_lines(tmp_path / "r" / "deleted.txt")
        back = next(f for f in files if f.file_id == deleted[3])
        server.store.add([back])
        assert server.existing is not None
        server.existing.add(back.file_id)
        assert cli.main(["verify", str(tmp_path / "r")]) == 1
    found = json.loads((tmp_path / "r" / "verify.json").read_text())
    assert [(d["kind"], d["fileId"]) for d in found["discrepancies"]] == [
        ("deleted_but_exists", back.file_id)
    ]
    assert back.file_id in capsys.readouterr().err
