"""``job submit -``: standard input is identified by its content as it is read, so that a
resumed or repeated submit of other ids under the job's name is refused (exit 2)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers import ThreadedServer, hex_ids, write_ids
from tests.jobs.helpers import JobProcess, job_env, run_job, status_of, wait_for_job
from tests.redis_server import RedisServer


def _lines(values: list[str]) -> str:
    return "".join(v + "\n" for v in values)


def test_a_finished_stdin_job_refuses_other_ids(redis_server: RedisServer, tmp_path: Path) -> None:
    """Fails before the fix: the second submit exited 0, "0 batches added"."""
    env = job_env(redis_server.url, "http://127.0.0.1:9")
    first = run_job(["submit", "-", "--job", "s"], env, stdin=_lines(hex_ids(3_000)))
    assert first.returncode == 0, first.stderr
    other = run_job(["submit", "-", "--job", "s"], env, stdin=_lines(hex_ids(3_000, 10_000)))
    assert other.returncode == 2, other.stderr
    assert "other input" in other.stderr and len(other.stderr.splitlines()) == 1
    assert "Traceback" not in other.stderr
    same = run_job(["submit", "-", "--job", "s"], env, stdin=_lines(hex_ids(3_000)))
    assert same.returncode == 0 and "0 batches added" in same.stderr, same.stderr
    assert status_of("s", env)["counts"]["read"] == 3_000


def test_a_killed_stdin_submit_resumes_only_the_same_ids(
    redis_server: RedisServer, tmp_path: Path, served: ThreadedServer
) -> None:
    """Fails before the fix: a second `submit -` with other ids resumed inside them, and
    the ids before its position were in no bucket."""
    server = served.server
    env = job_env(redis_server.url, server.url)
    mine = write_ids(tmp_path / "mine.txt", hex_ids(5_000))
    others = write_ids(tmp_path / "others.txt", hex_ids(5_000, 50_000))
    args = ["submit", "-", "--job", "k", "--max-open", "10"]
    first = JobProcess(args, env, tmp_path / "submit1.log", stdin=mine)
    wait_for_job("k", env)
    while int(status_of("k", env)["open_batches"]) < 10:
        time.sleep(0.05)
    first.kill()
    code, err = JobProcess(args, env, tmp_path / "submit2.log", stdin=others).finish()
    assert code == 2 and "other input" in err, err
    assert status_of("k", env)["counts"]["read"] == 1_000
    worker = JobProcess(
        ["worker", "--job", "k", "--allow-insecure-http"], env, tmp_path / "worker.log"
    )
    code, err = JobProcess(args, env, tmp_path / "submit3.log", stdin=mine).finish()
    assert code == 0 and "resumed after 1,000 input items" in err, err
    code, err = worker.finish()
    assert code == 0, err
    assert server.deleted == set(hex_ids(5_000))


def test_a_submit_that_waits_for_workers_says_so_once(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Fails before the fix: the submitter filled the stream and waited without a word."""
    env = job_env(redis_server.url, "http://127.0.0.1:9")
    source = write_ids(tmp_path / "ids.txt", hex_ids(2_000))
    args = ["submit", str(source), "--job", "w", "--max-open", "5"]
    submit = JobProcess(args, env, tmp_path / "submit.log")
    wait_for_job("w", env)
    while int(status_of("w", env)["open_batches"]) < 5:
        time.sleep(0.05)
    deadline = time.monotonic() + 10
    while "waiting for workers" not in submit.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)  # more waits, still one line
    submit.kill()
    said = [line for line in submit.log.read_text().splitlines() if "waiting for workers" in line]
    assert said == ["bulkdel: job w: 5 batches open, waiting for workers to take them"]
