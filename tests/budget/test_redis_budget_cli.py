"""``--redis`` / ``$BULKDEL_REDIS_URL`` in-process: ``delete`` and ``list`` take their turns
from the account's budget in Redis; the environment is read by the CLI only."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bulkdel import cli
from bulkdel.budget import redis_scripts
from bulkdel.cli.options import DeleteOptions, command_options
from bulkdel.cli.parser import build_parser
from bulkdel.cli.redis_setup import REDIS_ENV, resolve_redis_url
from bulkdel.cli.settings import delete_run
from bulkdel.testing import FakeImageKit, seed_files
from tests.helpers import KEY, ThreadedServer, delete_args, hex_ids, write_ids
from tests.redis_server import RedisServer


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """The key in the environment; no base URL and no Redis URL from it."""
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)
    monkeypatch.delenv(REDIS_ENV, raising=False)


@pytest.fixture
def served(environ: None) -> Iterator[ThreadedServer]:
    """A fake server where every well-formed id exists once, in its own thread."""
    threaded = ThreadedServer(FakeImageKit(KEY))
    with threaded:
        yield threaded


@pytest.fixture
def listed(environ: None) -> Iterator[ThreadedServer]:
    """A fake server with 30 files in /old/, in its own thread."""
    threaded = ThreadedServer(FakeImageKit(KEY, files=seed_files({"/old/": 30})))
    with threaded:
        yield threaded


def _budget_keys(server: RedisServer, base_url: str) -> list[str]:
    prefix = redis_scripts.key_prefix(base_url, KEY)
    with redis.Redis.from_url(server.url, decode_responses=True) as client:
        found = sorted(client.keys("*"))
    assert all(key.startswith(prefix) and KEY not in key for key in found)
    return found


def test_delete_with_redis_takes_its_turns_from_the_accounts_budget_there(
    tmp_path: Path, served: ThreadedServer, redis_server: RedisServer
) -> None:
    source = write_ids(tmp_path / "ids.txt", hex_ids(500))
    args = delete_args(source, served.url, tmp_path / "r", "--batch-size", "50", "--quiet")
    assert cli.main([*args, "--redis", redis_server.url]) == cli.EXIT_OK
    assert served.server.stats.ids_deleted == 500
    assert _budget_keys(redis_server, served.url)


def test_the_redis_url_may_come_from_the_environment(
    tmp_path: Path,
    served: ThreadedServer,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(REDIS_ENV, redis_server.url)
    source = write_ids(tmp_path / "ids.txt", hex_ids(100))
    assert cli.main(delete_args(source, served.url, tmp_path / "r", "--quiet")) == cli.EXIT_OK
    assert _budget_keys(redis_server, served.url)


def test_list_with_redis_pages_under_the_accounts_budget(
    tmp_path: Path, listed: ThreadedServer, redis_server: RedisServer
) -> None:
    out = tmp_path / "ids.txt"
    args = ["list", "--path", "/old/", "--base-url", listed.url, "-o", str(out)]
    assert cli.main([*args, "--redis", redis_server.url]) == cli.EXIT_OK
    assert len(out.read_text().splitlines()) == 30
    assert _budget_keys(redis_server, listed.url)


def test_a_dry_run_of_files_sends_nothing_and_needs_no_redis(
    tmp_path: Path, served: ThreadedServer
) -> None:
    source = write_ids(tmp_path / "ids.txt", hex_ids(10))
    args = delete_args(source, served.url, tmp_path / "r", "--dry-run", "--quiet")
    assert cli.main([*args, "--redis", "redis://127.0.0.1:1/0"]) == cli.EXIT_OK


def test_the_option_wins_over_the_environment_and_stays_out_of_repr() -> None:
    environ = {REDIS_ENV: "redis://env:6379/0", "IMAGEKIT_PRIVATE_KEY": KEY}
    assert resolve_redis_url(None, environ) == "redis://env:6379/0"
    assert resolve_redis_url("redis://opt:6379/0", environ) == "redis://opt:6379/0"
    assert resolve_redis_url(None, {}) is None
    args = build_parser().parse_args(["delete", "x.txt", "--redis", "redis://:pw@h:1/0"])
    assert isinstance(args, argparse.Namespace)
    options = command_options(args)
    assert isinstance(options, DeleteOptions)
    job = delete_run(options, environ)
    assert job.redis_url == "redis://:pw@h:1/0"
    assert "pw" not in repr(job)
