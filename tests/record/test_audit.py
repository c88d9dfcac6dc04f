"""summary.json's audit record: who, what, when, where, on which account; never the key."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import socket
from pathlib import Path

import bulkdel
from bulkdel import BulkDeleter, Settings
from bulkdel.record.audit import key_fingerprint, redact
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, MakeFake, ThreadedServer, hex_ids, run_cli


def secrets_in(directory: Path, *secrets: str) -> list[str]:
    """The files of ``directory`` holding any of ``secrets``."""
    return [
        path.name
        for path in directory.iterdir()
        if any(secret.encode() in path.read_bytes() for secret in secrets)
    ]


def test_a_cli_run_records_who_what_when_and_never_the_key(tmp_path: Path) -> None:
    """A selector run's audit: version, host, UTC start/end, the command line, the
    selection and the key's fingerprint; the key (or its Basic token) is in no report file."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/q/": 30})))
    argv = ["delete", "--path", "/q/", "--base-url", "", "--report-dir", str(tmp_path / "r"),
            "--yes", "--quiet"]  # fmt: skip
    with threaded:
        argv[4] = threaded.url
        before = dt.datetime.now(dt.UTC)
        result = run_cli(argv)
    assert result.returncode == 0, result.stderr
    audit = json.loads((tmp_path / "r" / "summary.json").read_text())["audit"]
    assert audit["bulkdel_version"] == bulkdel.__version__
    assert audit["host"] == socket.gethostname()
    started = dt.datetime.fromisoformat(audit["started_at"].replace("Z", "+00:00"))
    ended = dt.datetime.fromisoformat(audit["ended_at"].replace("Z", "+00:00"))
    assert before - dt.timedelta(seconds=1) <= started <= ended
    assert audit["started_at"].endswith("Z")
    assert audit["command"] == ["bulkdel", *argv]
    assert audit["selection"] == 'path = "/q/"'
    fingerprint = "sha256:" + hashlib.sha256(KEY.encode()).hexdigest()[:16]
    assert audit["account"] == {"base_url": threaded.url, "key_fingerprint": fingerprint}
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    assert secrets_in(tmp_path / "r", KEY, token) == []


async def test_a_library_run_records_the_call_and_removes_secrets(
    tmp_path: Path, make_fake: MakeFake
) -> None:
    """The library's audit holds the call and its settings; a command line handed in loses
    a URL's password and any argument holding the key."""
    server = await make_fake()
    settings = Settings(base_url=server.url, concurrency=2)
    plain = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "a")
    report = await plain.run(hex_ids(5))
    argv = ["svc", "--redis", "redis://:hunter2secret@redis:6379/0", f"--key={KEY}"]
    told = BulkDeleter(KEY, settings=settings, report_dir=tmp_path / "b", invocation=argv)
    await told.run(hex_ids(5, start=5))
    assert report.audit is not None
    assert report.audit["command"] is None
    assert report.audit["library_call"]["settings"]["concurrency"] == 2
    audit = json.loads((tmp_path / "b" / "summary.json").read_text())["audit"]
    assert audit["command"] == ["svc", "--redis", "redis://:***@redis:6379/0", "***"]
    for name in ("a", "b"):
        assert secrets_in(tmp_path / name, KEY, "hunter2secret") == []
    assert KEY not in repr(told) and KEY not in repr(report)


def test_redact_and_the_fingerprint() -> None:
    """URLs without a password are kept; the fingerprint is stable and not the key."""
    assert redact(["--redis", "redis://host:6379/0", "x"], [None]) == [
        "--redis",
        "redis://host:6379/0",
        "x",
    ]
    assert redact(["https://user:pw@h/"]) == ["https://user:***@h/"]
    assert key_fingerprint(None) is None
    assert key_fingerprint("abc") == key_fingerprint(" abc ") != "abc"
