"""The key never leaves the Authorization header: not in stdout, stderr or any report file,
under every failure path; and it is never sent over plain http to a non-loopback host."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bulkdel import BulkDeleter
from bulkdel.cli import main
from bulkdel.errors import UsageError
from bulkdel.models import Settings
from bulkdel.testing import FakeImageKit, Faults
from tests.helpers import KEY, ThreadedServer, hex_ids, run_cli

FORMS = (
    KEY,
    base64.b64encode(f"{KEY}:".encode()).decode(),
    base64.b64encode(KEY.encode()).decode(),
)


class EchoServer:
    """A hostile or broken server that echoes the request's headers back in every answer."""

    def __init__(self, status: int, content_type: str = "application/json") -> None:
        self.status = status
        self.content_type = content_type
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        echoed = {"message": f"bad request from {auth}", "headers": dict(request.headers)}
        if self.content_type == "text/html":
            text = f"<html><body><pre>{auth}\n{KEY}</pre></body></html>"
        else:
            text = json.dumps(echoed | {"missingFileIds": [], "help": auth})
        return web.Response(status=self.status, text=text, content_type=self.content_type)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def assert_no_key(texts: list[str], where: Path | None) -> None:
    """No form of the key in any of ``texts`` or any file under ``where``."""
    blobs = list(texts)
    if where is not None and where.exists():
        blobs += [p.read_text(errors="replace") for p in where.rglob("*") if p.is_file()]
    for blob in blobs:
        for form in FORMS:
            assert form not in blob, f"key form {form[:6]}… leaked"


def _cli(url: str, tmp_path: Path, *extra: str, stdin: str | None = None) -> Any:
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in hex_ids(30)) + "bad id\n")
    return run_cli(
        [
            "delete",
            str(source),
            "--base-url",
            url,
            "--report-dir",
            str(tmp_path / "r"),
            "--max-attempts",
            "2",
            "--timeout",
            "0.3",
            "--batch-size",
            "10",
            *extra,
        ],
        stdin=stdin,
        timeout=60,
    )


FAULTS = {
    "5xx": Faults(error_5xx=1.0),
    "html": Faults(html_error=1.0),
    "drop_before": Faults(drop_before=1.0),
    "drop_after": Faults(drop_after=1.0),
    "slow": Faults(slow_after=1.0, slow_seconds=1.0),
    "locked": Faults(permanent_errors=frozenset(hex_ids(30)[:3])),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_no_key_in_output_under_server_faults(tmp_path: Path, name: str) -> None:
    """Every fault of the fake server: the key is in no output and no report file."""
    as_json = sorted(FAULTS).index(name) % 2 == 0  # both summary forms, half each
    threaded = ThreadedServer(FakeImageKit(KEY, existing=hex_ids(20), faults=FAULTS[name]))
    with threaded:
        # the faults hit the run itself, not the preflight
        result = _cli(threaded.url, tmp_path, "--no-preflight", *(["--json"] if as_json else []))
    # no delete request answered (nothing connected, or a 5xx each time): unreachable, 3
    unreachable = name in ("5xx", "html", "drop_before")
    assert result.returncode in ((3,) if unreachable else (0, 1)), result.stderr
    assert "Traceback" not in result.stderr
    assert_no_key([result.stdout, result.stderr], tmp_path / "r")


@pytest.mark.parametrize(
    ("status", "content_type"),
    [
        (400, "application/json"),
        (401, "application/json"),
        (403, "application/json"),
        (404, "application/json"),
        (404, "text/html"),
        (418, "application/json"),
        (502, "text/html"),
        (200, "text/html"),
        (207, "application/json"),
    ],
)
def test_no_key_when_the_server_echoes_it_back(
    tmp_path: Path, status: int, content_type: str
) -> None:
    """A server that echoes the Authorization header in its answers: the key is scrubbed."""
    threaded = ThreadedServer(EchoServer(status, content_type))  # type: ignore[arg-type]
    with threaded:
        result = _cli(threaded.url, tmp_path, "--json")
    assert result.returncode in (1, 3), (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert_no_key([result.stdout, result.stderr], tmp_path / "r")


def _cli_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    source = tmp_path / "ids.txt"
    source.write_text("".join(i + "\n" for i in hex_ids(5)))
    argv = ["delete", str(source), "--report-dir", str(tmp_path / "r"), *args]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "extra",
    [
        ["--batch-size", "0"],
        ["--private-key-file", "/nonexistent/key"],
        ["--base-url", "ftp://example.com"],
        ["--base-url", f"https://user:{KEY}@example.com"],
        ["--base-url", "http://example.com"],
        ["--dry-run"],
    ],
)
def test_no_key_in_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
) -> None:
    """Usage errors and dry runs print no form of the key (even one typed into a URL)."""
    code, out, err = _cli_in_process(tmp_path, monkeypatch, capsys, *extra)
    assert code in (0, 2), err
    assert "Traceback" not in err
    assert_no_key([out, err], tmp_path / "r")


def test_no_key_when_connection_refused(tmp_path: Path) -> None:
    """Nothing listening: the preflight exits 3; without it every id fails; no key anywhere."""
    result = _cli("http://127.0.0.1:9", tmp_path)
    assert result.returncode == 3, result.stderr
    assert_no_key([result.stdout, result.stderr], tmp_path / "r")
    result = _cli("http://127.0.0.1:9", tmp_path, "--no-preflight")
    assert result.returncode == 3, result.stderr  # every id failed: unreachable
    assert_no_key([result.stdout, result.stderr], tmp_path / "r")


@pytest.mark.parametrize("host", ["example.com", "10.0.0.5", "[2001:db8::1]", "127.0.0.1.nip.io"])
def test_plain_http_to_a_remote_host_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    """http:// to a non-loopback host exits 2 with a clear line, before any request."""
    code, _, err = _cli_in_process(tmp_path, monkeypatch, capsys, "--base-url", f"http://{host}")
    assert code == 2, err
    assert "--allow-insecure-http" in err
    assert not (tmp_path / "r").exists()  # refused before anything was read or written


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.8.9.10"])
def test_plain_http_to_loopback_is_allowed(host: str) -> None:
    """Loopback hosts may use plain http (the fake server)."""
    BulkDeleter(KEY, settings=Settings(base_url=f"http://{host}:1"))


def test_allow_insecure_http_lets_plain_http_through() -> None:
    """--allow-insecure-http (allow_insecure_http=True) is the only way to a remote http host."""
    with pytest.raises(UsageError, match="allow_insecure_http"):
        BulkDeleter(KEY, settings=Settings(base_url="http://example.com"))
    BulkDeleter(KEY, settings=Settings(base_url="http://example.com", allow_insecure_http=True))


def test_repr_hides_the_key() -> None:
    """The deleter's and the server's reprs do not show the key."""
    deleter = BulkDeleter(KEY, settings=Settings(base_url="http://127.0.0.1:1"))
    assert_no_key([repr(deleter), repr(FakeImageKit(KEY)), repr(vars(deleter))], None)
