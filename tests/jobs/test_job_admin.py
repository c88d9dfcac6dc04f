"""``bulkdel job list``, ``job delete`` and ``job submit --keep``, in-process against a real
Redis: delete leaves Redis as it was before the job, refuses a running job without
``--force``, and a finished job's keys get its retention."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as sync_redis

from bulkdel import cli
from bulkdel.jobs import JobKeys
from bulkdel.jobs.redis_keys import GROUP
from bulkdel.jobs.scripts import SETTLE
from tests.helpers import KEY, ThreadedServer, hex_ids
from tests.redis_server import RedisServer

WEEK = 7 * 86400


@pytest.fixture
def client(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> Iterator[sync_redis.Redis]:
    monkeypatch.setenv("IMAGEKIT_PRIVATE_KEY", KEY)
    monkeypatch.setenv("BULKDEL_REDIS_URL", redis_server.url)
    monkeypatch.delenv("IMAGE_KIT_BASE_URL", raising=False)
    with sync_redis.Redis.from_url(redis_server.url, decode_responses=True) as redis:
        yield redis


def _source(tmp_path: Path, count: int) -> str:
    source = tmp_path / f"ids{count}.txt"
    values = hex_ids(count)
    source.write_text("\n".join([*values, *values[:4], "not an id"]) + "\n")
    return str(source)


def _job_keys(redis: sync_redis.Redis, job: str) -> dict[str, int]:
    """Each key of the job, with its TTL (-1: none)."""
    return {k: redis.ttl(k) for k in redis.scan_iter(match=JobKeys.of(job).pattern)}


def test_job_delete_returns_redis_to_where_it_was(
    client: sync_redis.Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    served: ThreadedServer,
) -> None:
    """Fails before: there was no ``job delete``. A finished job, reported, then deleted:
    the same keys and DBSIZE as before it was submitted (another job, and the account's
    budget its worker set up, which expires on its own, are left alone)."""
    client.set("someone:else", "1")
    server = served.server
    url = ["--base-url", server.url, "--allow-insecure-http"]
    assert cli.main(["job", "submit", _source(tmp_path, 20), "--job", "other"]) == 0
    assert cli.main(["job", "worker", "--job", "other", "--name", "w", *url]) == 0
    before = (sorted(client.keys("*")), client.dbsize())
    assert cli.main(["job", "submit", _source(tmp_path, 450), "--job", "d"]) == 0
    assert cli.main(["job", "worker", "--job", "d", "--name", "w", *url]) == 0
    report = ["job", "report", "d", "--report-dir", str(tmp_path / "report")]
    assert cli.main(report) == 0
    assert len(_job_keys(client, "d")) >= 8
    capsys.readouterr()
    assert cli.main(["job", "delete", "d"]) == 0
    assert "job d deleted" in capsys.readouterr().err
    assert (sorted(client.keys("*")), client.dbsize()) == before
    assert client.smembers("bulkdel:jobs") == {"other"}


def test_job_delete_refuses_a_running_job_without_force(
    client: sync_redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Batches open: exit 2 and nothing deleted; ``--force`` deletes it. A job not in Redis
    exits 3 as for every job command."""
    assert cli.main(["job", "submit", _source(tmp_path, 250), "--job", "r"]) == 0
    keys = _job_keys(client, "r")
    capsys.readouterr()
    assert cli.main(["job", "delete", "--job", "r"]) == 2
    err = capsys.readouterr().err
    assert "is not finished (submitted, 3 batches open)" in err and "--force" in err
    assert _job_keys(client, "r") == keys
    assert cli.main(["job", "delete", "r", "--force"]) == 0
    assert _job_keys(client, "r") == {} and client.dbsize() == 0
    assert cli.main(["job", "delete", "r"]) == 3


def test_job_list_shows_state_counts_age_and_expiry(
    client: sync_redis.Redis,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    served: ThreadedServer,
) -> None:
    """Fails before: there was no ``job list``. A finished job kept for a week and an open
    one kept for good, with their counts; a vanished job's name leaves the registry."""
    server = served.server
    url = ["--base-url", server.url, "--allow-insecure-http"]
    assert cli.main(["job", "submit", _source(tmp_path, 150), "--job", "a", "--keep", "7d"]) == 0
    assert cli.main(["job", "worker", "--job", "a", "--name", "w", *url]) == 0
    assert cli.main(["job", "submit", _source(tmp_path, 120), "--job", "b"]) == 0
    client.sadd("bulkdel:jobs", "vanished")
    capsys.readouterr()
    assert cli.main(["job", "list", "--json"]) == 0
    shown = {job["job"]: job for job in json.loads(capsys.readouterr().out)}
    assert sorted(shown) == ["a", "b"]
    assert shown["a"]["state"] == "finished" and 0 < shown["a"]["expires_in_s"] <= WEEK
    assert shown["a"]["counts"]["deleted"] == 150 and shown["a"]["counts"]["pending"] == 0
    assert shown["b"]["state"] == "submitted" and shown["b"]["expires_in_s"] is None
    assert shown["b"]["counts"]["pending"] == 120 and shown["b"]["age_s"] >= 0
    assert client.smembers("bulkdel:jobs") == {"a", "b"}
    assert cli.main(["job", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "JOB", "STATE", "UNIQUE", "DELETED", "MISSING", "FAILED", "PENDING", "AGE", "EXPIRES"
    ]  # fmt: skip
    assert lines[1].split()[:7] == ["a", "finished", "150", "150", "0", "0", "0"]
    assert lines[2].split()[-1] == "never"


def test_a_finished_jobs_keys_expire_after_its_keep(
    client: sync_redis.Redis, tmp_path: Path, served: ThreadedServer
) -> None:
    """Fails before: a job's keys stayed for good. ``--keep 7d``: once the worker finished
    the job, every key of it (the input records' lists too) expires within the week; an
    unfinished job's keys have no TTL."""
    server = served.server
    url = ["--base-url", server.url, "--allow-insecure-http"]
    assert cli.main(["job", "submit", _source(tmp_path, 250), "--job", "k", "--keep", "7d"]) == 0
    assert set(_job_keys(client, "k").values()) == {-1}
    assert cli.main(["job", "worker", "--job", "k", "--name", "w", *url]) == 0
    ttls = _job_keys(client, "k")
    assert {k.rsplit(":", 1)[-1] for k in ttls} >= {"meta", "results", "invalid", "dups"}
    assert all(0 < ttl <= WEEK for ttl in ttls.values()), ttls
    with pytest.raises(SystemExit) as refused:
        cli.main(["job", "submit", _source(tmp_path, 5), "--job", "x", "--keep", "7m"])
    assert refused.value.code == 2


def test_the_settle_that_finishes_a_job_starts_its_retention(client: sync_redis.Redis) -> None:
    """The last settle expires every key it is given (``JobKeys.settle_keys``: the input
    records' lists too) after the job's keep; a settle before the end sets none."""
    keys = JobKeys.of("s")
    client.hset(keys.meta, mapping={"state": "submitted", "keep": 3600})
    client.xgroup_create(keys.batches, GROUP, "0", mkstream=True)
    first, last = (client.xadd(keys.batches, {"ids": i}) for i in hex_ids(2))
    client.rpush(keys.invalid, "{}")
    client.rpush(keys.duplicates, hex_ids(1)[0])
    client.xreadgroup(GROUP, "A", {keys.batches: ">"})
    settle = client.register_script(SETTLE)
    for entry, file_id in ((first, hex_ids(2)[0]), (last, hex_ids(2)[1])):
        assert client.ttl(keys.meta) == -1
        args = [GROUP, entry, "A", "0", file_id, "", "", "[]", 1, 0, "{}"]
        assert settle(keys=keys.settle_keys(), args=args) == 1
    ttls = {k: client.ttl(k) for k in keys.settle_keys() if client.exists(k)}
    assert len(ttls) == 8 and all(3500 < t <= 3600 for t in ttls.values()), ttls


def test_job_list_shows_an_unfinished_jobs_retention_as_after_its_end(
    client: sync_redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails before: an open job submitted with ``--keep 7d`` said ``EXPIRES never``, though
    its keys expire a week after it ends; one with no ``--keep`` is kept for good."""
    assert cli.main(["job", "submit", _source(tmp_path, 120), "--job", "k", "--keep", "7d"]) == 0
    assert cli.main(["job", "submit", _source(tmp_path, 10), "--job", "z"]) == 0
    capsys.readouterr()
    assert cli.main(["job", "list", "--json"]) == 0
    shown = {job["job"]: job for job in json.loads(capsys.readouterr().out)}
    assert shown["k"]["expires_in_s"] is None and shown["k"]["keep_after_end_s"] == WEEK
    assert shown["z"]["expires_in_s"] is None and shown["z"]["keep_after_end_s"] is None
    assert cli.main(["job", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[0] == "k" and lines[1].endswith("end+7d")
    assert lines[2].split()[0] == "z" and lines[2].endswith("never")
