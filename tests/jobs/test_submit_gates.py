"""``job submit``'s gates, as ``delete``'s: ``--max-delete`` refuses, ``--dry-run`` counts,
and a terminal user is asked first; in each case nothing reaches Redis (real processes, and
in-process for the terminal prompt)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import redis

from bulkdel import cli
from bulkdel.testing import seed_files
from tests.helpers import KEY, MakeServed, hex_ids
from tests.jobs.helpers import job_env, run_job
from tests.redis_server import RedisServer


def _keys(server: RedisServer) -> int:
    with redis.Redis.from_url(server.url) as client:
        return int(client.dbsize())


def test_max_delete_refuses_a_submit_with_delete_s_wording(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Above ``--max-delete``: exit 2, ``delete``'s words, nothing in Redis (fails before
    the change: the job was submitted)."""
    source = tmp_path / "ids.txt"
    source.write_text("\n".join([*hex_ids(5), *hex_ids(2)]) + "\n")
    env = job_env(redis_server.url, "http://127.0.0.1:9")
    done = run_job(["submit", str(source), "--job", "g", "--max-delete", "4"], env)
    assert done.returncode == 2, done.stderr
    assert "the input holds more than 4 unique ids (--max-delete); nothing was sent" in (
        done.stderr
    )
    assert _keys(redis_server) == 0
    done = run_job(["submit", str(source), "--job", "g", "--max-delete", "5"], env)
    assert done.returncode == 0, done.stderr
    assert _keys(redis_server) > 0


def test_dry_run_counts_and_puts_nothing_on_redis(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """``--dry-run``: the counts a submit would put on the stream; nothing in Redis (fails
    before the change: the job was submitted)."""
    source = tmp_path / "ids.txt"
    source.write_text("\n".join([*hex_ids(5), *hex_ids(2), "no good"]) + "\n")
    env = job_env(redis_server.url, "http://127.0.0.1:9")
    done = run_job(["submit", str(source), "--job", "g", "--dry-run"], env)
    assert done.returncode == 0, done.stderr
    assert "5 ids would be submitted (read 8, invalid 1, duplicate 2)" in done.stderr
    assert _keys(redis_server) == 0


def test_max_delete_with_stdin_is_a_usage_error(redis_server: RedisServer) -> None:
    """Standard input cannot be counted, then submitted: one line, exit 2."""
    env = job_env(redis_server.url, "http://127.0.0.1:9")
    done = run_job(["submit", "--job", "g", "--max-delete", "9"], env, stdin="a\n")
    assert done.returncode == 2 and "standard input cannot be read twice" in done.stderr
    assert "Traceback" not in done.stderr and _keys(redis_server) == 0


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("answer", ["no\n", ""])
def test_a_terminal_user_is_asked_before_a_selector_job(
    redis_server: RedisServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answer: str,
    make_served: MakeServed,
) -> None:
    """A selector job on a terminal asks with ``delete``'s prompt; anything but yes: exit 2,
    nothing in Redis (fails before the change: submitted without a word)."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BULKDEL_REDIS_URL", redis_server.url)
    monkeypatch.setattr(sys, "stdin", _Tty(answer))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    files = seed_files({"/old/": 30})
    threaded = make_served(files=files).server
    url = ["--base-url", threaded.url, "--allow-insecure-http"]
    code = cli.main(["job", "submit", "--job", "s", "--path", "/old/", *url])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "about to delete every file selected by" in err
    assert f"from {threaded.url}. Type 'yes' to go on" in err
    assert err.endswith("bulkdel: nothing deleted.\n")
    assert _keys(redis_server) == 0
    monkeypatch.setattr(sys, "stdin", _Tty("yes\n"))
    threaded = make_served(files=files).server
    url = ["--base-url", threaded.url, "--allow-insecure-http"]
    assert cli.main(["job", "submit", "--job", "s", "--path", "/old/", *url]) == 0
    assert _keys(redis_server) > 0
