"""The fake ImageKit server, end to end through DeleteClient and raw aiohttp requests."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bulkdel.imagekit import DELETE_PATH, DeleteClient
from bulkdel.models import Kind, Outcome
from bulkdel.testing import FakeImageKit, Faults, RateWindow
from bulkdel.testing.cli import add_arguments, server_from_args
from bulkdel.testing.fake_server import STATS_PATH

KEY = "private_test_key_0123456789"  #: the key of the ``fake_server`` fixture (conftest.py)
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()


def ids(n: int, prefix: str = "f") -> list[str]:
    """``n`` distinct well-formed 24-character ids."""
    return [f"{prefix}{i:023x}" for i in range(n)]


class Clock:
    """A hand-driven monotonic clock for the server's throttle."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def post(
    server: FakeImageKit,
    body: bytes | str | None = None,
    *,
    file_ids: Sequence[Any] | None = None,
    auth: str | None = AUTH,
) -> tuple[int, Any, dict[str, str]]:
    """POST to the delete endpoint; returns status, decoded JSON (or text) and headers."""
    if file_ids is not None:
        body = json.dumps({"fileIds": list(file_ids)})
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.url + DELETE_PATH, data=body or b"", headers=headers) as response,
    ):
        text = await response.text()
        try:
            data: Any = json.loads(text)
        except ValueError:
            data = text
        return response.status, data, dict(response.headers)


@pytest.fixture
async def client(fake_server: FakeImageKit) -> AsyncIterator[DeleteClient]:
    """A client with the right key for ``fake_server``."""
    async with DeleteClient(KEY, base_url=fake_server.url) as c:
        yield c


# --- existing ids --------------------------------------------------------------------------


async def test_seeded_ids_are_the_only_ones_that_exist() -> None:
    """With ``existing``, seeded ids are deleted once; any other id is missing."""
    seeded = ids(3)
    async with FakeImageKit(KEY, existing=seeded) as server:
        async with DeleteClient(KEY, base_url=server.url) as client:
            first = await client.delete_batch(seeded[:2])
            second = await client.delete_batch([seeded[2], "0" * 24])
            again = await client.delete_batch(seeded[:1])
        assert first == Outcome(Kind.SUCCESS, 200, deleted=tuple(seeded[:2]))
        assert second.kind is Kind.MISSING
        assert second.missing == ("0" * 24,)
        assert again.missing == (seeded[0],)
        assert server.deleted == set(seeded[:2])
        assert server.existing == {seeded[2]}


async def test_every_well_formed_id_exists_once(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """Without ``existing``, a well-formed id is deleted once, then it is missing (404)."""
    batch = ids(5)
    first = await client.delete_batch(batch)
    second = await client.delete_batch(batch)
    assert first.deleted == tuple(batch)
    assert second.kind is Kind.MISSING
    assert second.missing == tuple(batch)
    assert fake_server.deleted == set(batch)


async def test_malformed_id_is_missing(fake_server: FakeImageKit) -> None:
    """An id outside ImageKit's alphabet does not exist: 404 naming it."""
    status, data, _ = await post(fake_server, file_ids=["a" * 24, "bad id!"])
    assert status == 404
    assert data["missingFileIds"] == ["bad id!"]
    assert fake_server.deleted == set()


async def test_404_deletes_nothing_of_the_batch(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """One unknown id makes the whole batch a 404: the other ids are not deleted."""
    gone = ids(1, "e")
    await client.delete_batch(gone)
    batch = [*ids(4), *gone]
    status, data, _ = await post(fake_server, file_ids=batch)
    assert status == 404
    assert data == {
        "message": "The requested file(s) does not exist.",
        "help": "For support kindly contact us at support@imagekit.io.",
        "missingFileIds": gone,
    }
    assert fake_server.deleted == set(gone)
    assert all(fake_server.exists(i) for i in ids(4))
    assert fake_server.stats.ids_deleted == 1


async def test_duplicates_in_a_batch_are_deleted_once(fake_server: FakeImageKit) -> None:
    """An id sent twice in one batch is deleted and listed once (not a 404 for the copy)."""
    batch = ids(2)
    status, data, _ = await post(fake_server, file_ids=[*batch, batch[0]])
    assert status == 200
    assert data == {"successfullyDeletedFileIds": batch}
    assert fake_server.stats.ids_deleted == 2


# --- auth and bad requests -----------------------------------------------------------------


async def test_401_without_key(fake_server: FakeImageKit) -> None:
    """No Authorization header -> 401 with ImageKit's message; nothing deleted."""
    status, data, _ = await post(fake_server, file_ids=ids(1), auth=None)
    assert status == 401
    assert data["message"] == "Your request does not contain private API key."
    assert fake_server.deleted == set()


async def test_403_with_wrong_key(fake_server: FakeImageKit) -> None:
    """A wrong key -> 403 (FATAL for the client); nothing deleted."""
    async with DeleteClient("another_private_key", base_url=fake_server.url) as client:
        outcome = await client.delete_batch(ids(2))
    assert outcome == Outcome(Kind.FATAL, 403, message="Your account cannot be authenticated.")
    assert fake_server.deleted == set()


async def test_password_part_is_ignored_like_imagekit(fake_server: FakeImageKit) -> None:
    """The Basic-auth password is ignored, as ImageKit does (the SDK sends key:do_not_set)."""
    auth = "Basic " + base64.b64encode(f"{KEY}:do_not_set".encode()).decode()
    status, _, _ = await post(fake_server, file_ids=ids(1), auth=auth)
    assert status == 200


@pytest.mark.parametrize(
    "auth",
    [
        "Bearer " + base64.b64encode(f"{KEY}:".encode()).decode(),
        "Basic " + base64.b64encode(KEY.encode()).decode(),
        "Basic " + base64.b64encode(f"{KEY}x:".encode()).decode(),
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"\xff\xfe:").decode(),
        KEY,
    ],
    ids=["bearer", "no-colon", "other-key", "bad-base64", "not-utf8", "bare-key"],
)
async def test_malformed_or_wrong_auth_is_403(fake_server: FakeImageKit, auth: str) -> None:
    """An Authorization header that does not carry the key as Basic user -> 403."""
    status, _, _ = await post(fake_server, file_ids=ids(1), auth=auth)
    assert status == 403
    assert fake_server.deleted == set()


async def test_key_is_checked_before_the_body(fake_server: FakeImageKit) -> None:
    """A bad body with a wrong key is a 403, not a 400: the key is checked first."""
    status, _, _ = await post(fake_server, b"not json", auth="Basic eDo=")
    assert status == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"fileIds": []}', "fileIds is empty."),
        (json.dumps({"fileIds": ids(101)}), "fileIds cannot have more than 100 items."),
        ('{"fileIds": "abc"}', "fileIds should be an Array."),
        ('{"fileIds": [1, 2]}', "fileIds should be an Array."),
        ('{"fileIds": {"a": 1}}', "fileIds should be an Array."),
        ('{"ids": ["a"]}', "fileIds parameter is missing."),
        ('["a"]', "fileIds parameter is missing."),
        ("fileIds=a", "Request body is not valid JSON."),
        ("", "Request body is not valid JSON."),
    ],
    ids=["empty", "101", "string", "ints", "object", "no-key", "bare-list", "form", "no-body"],
)
async def test_400_for_bad_bodies(fake_server: FakeImageKit, body: str, message: str) -> None:
    """Malformed bodies -> 400 with ImageKit's message; nothing deleted."""
    status, data, _ = await post(fake_server, body)
    assert status == 400
    assert data["message"] == message
    assert fake_server.deleted == set()


async def test_100_ids_is_allowed(fake_server: FakeImageKit) -> None:
    """Exactly 100 ids is the limit, not past it."""
    status, data, _ = await post(fake_server, file_ids=ids(100))
    assert status == 200
    assert len(data["successfullyDeletedFileIds"]) == 100


# --- throttling ----------------------------------------------------------------------------


async def test_rate_throttles_with_imagekit_headers() -> None:
    """Past ``rate`` requests a second -> 429 with X-RateLimit-*; a token comes back in 1/rate."""
    clock = Clock()
    async with FakeImageKit(KEY, rate=2.0, clock=clock) as server:
        assert (await post(server, file_ids=ids(1, "a")))[0] == 200
        assert (await post(server, file_ids=ids(1, "b")))[0] == 200
        status, data, headers = await post(server, file_ids=ids(1, "c"))
        assert status == 429
        assert data["message"] == "Too many requests."
        assert headers["X-RateLimit-Limit"] == "2"
        assert headers["X-RateLimit-Reset"] == "500"
        assert headers["X-RateLimit-Interval"] == "1000"
        assert server.exists(ids(1, "c")[0])  # the 429 deleted nothing
        clock.now += 0.25
        status, _, headers = await post(server, file_ids=ids(1, "c"))
        assert (status, headers["X-RateLimit-Reset"]) == (429, "250")
        clock.now += 0.25
        assert (await post(server, file_ids=ids(1, "c")))[0] == 200
        assert server.stats.by_status[429] == 2
        assert server.stats.by_status[200] == 3


async def test_client_reads_the_servers_wait() -> None:
    """The client's THROTTLED outcome carries the wait the fake server asked for."""
    clock = Clock()
    async with (
        FakeImageKit(KEY, rate=4.0, clock=clock) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        for batch in (ids(1, "a"), ids(1, "b"), ids(1, "c"), ids(1, "d")):
            assert (await client.delete_batch(batch)).kind is Kind.SUCCESS
        outcome = await client.delete_batch(ids(1, "e"))
    assert outcome.kind is Kind.THROTTLED
    assert outcome.retry_after == pytest.approx(0.25)
    assert server.deleted == {b[0] for b in (ids(1, "a"), ids(1, "b"), ids(1, "c"), ids(1, "d"))}


async def test_fixed_window_resets_after_its_interval() -> None:
    """A RateWindow admits ``limit`` requests per fixed interval, then resets all at once."""
    clock = Clock()
    async with FakeImageKit(KEY, windows=[RateWindow(3, 10.0)], clock=clock) as server:
        batches = iter(ids(20))
        statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        clock.now += 4.0
        status, _, headers = await post(server, file_ids=[next(batches)])
        assert status == 429
        assert headers["X-RateLimit-Limit"] == "3"
        assert headers["X-RateLimit-Reset"] == "6000"
        assert headers["X-RateLimit-Interval"] == "10000"
        clock.now += 5.5
        status, _, headers = await post(server, file_ids=[next(batches)])
        assert (status, headers["X-RateLimit-Reset"]) == (429, "500")
        clock.now += 0.5
        statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        clock.now += 25.0  # 2.5 intervals later: windows stay on their 10 s grid
        statuses = [(await post(server, file_ids=[next(batches)]))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]
        status, _, headers = await post(server, file_ids=[next(batches)])
        assert (status, headers["X-RateLimit-Reset"]) == (429, "5000")
        assert len(server.deleted) == 9


async def test_longest_refusing_window_sets_the_wait() -> None:
    """With several windows spent, the 429 names the one that resets last."""
    clock = Clock()
    windows = [RateWindow(1, 1.0), RateWindow(2, 60.0)]
    async with FakeImageKit(KEY, windows=windows, clock=clock) as server:
        assert (await post(server, file_ids=ids(1, "a")))[0] == 200
        clock.now += 1.0
        assert (await post(server, file_ids=ids(1, "b")))[0] == 200
        status, _, headers = await post(server, file_ids=ids(1, "c"))
    assert status == 429
    assert headers["X-RateLimit-Limit"] == "2"
    assert headers["X-RateLimit-Reset"] == "59000"
    assert headers["X-RateLimit-Interval"] == "60000"


# --- faults --------------------------------------------------------------------------------


async def test_fault_5xx_deletes_nothing() -> None:
    """error_5xx -> a JSON 503 and nothing deleted."""
    async with FakeImageKit(KEY, faults=Faults(error_5xx=1.0)) as server:
        status, data, _ = await post(server, file_ids=ids(3))
        assert status == 503
        assert data["message"] == "Service temporarily unavailable."
        assert server.deleted == set()
        assert server.stats.faults["error_5xx"] == 1


async def test_fault_html_error_is_a_502_page() -> None:
    """html_error -> a 502 HTML page (a proxy in the way), nothing deleted."""
    async with FakeImageKit(KEY, faults=Faults(html_error=1.0)) as server:
        async with DeleteClient(KEY, base_url=server.url) as client:
            outcome = await client.delete_batch(ids(3))
        status, text, headers = await post(server, file_ids=ids(3))
        assert status == 502
        assert headers["Content-Type"].startswith("text/html")
        assert "<html>" in text
        assert outcome.kind is Kind.TRANSIENT
        assert "502 Bad Gateway" in outcome.message
        assert server.deleted == set()


async def test_fault_drop_before_deletes_nothing() -> None:
    """drop_before closes the connection before deleting: the client sees a lost connection."""
    async with (
        FakeImageKit(KEY, faults=Faults(drop_before=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(ids(3))
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied
    assert server.deleted == set()
    assert server.stats.requests == 1
    assert sum(server.stats.by_status.values()) == 0  # a dropped answer has no status
    assert server.stats.faults["drop_before"] == 1


async def test_fault_drop_after_deletes() -> None:
    """drop_after deletes, then drops the answer; sent again, the ids are missing (404)."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(drop_after=1.0)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(batch)
        retry = await client.delete_batch(batch)
    assert outcome.kind is Kind.TRANSIENT
    assert outcome.maybe_applied
    assert server.deleted == set(batch)
    assert retry.kind is Kind.MISSING
    assert retry.missing == tuple(batch)
    assert server.stats.faults["drop_after"] == 1


async def test_fault_slow_after_deletes_but_answers_late() -> None:
    """slow_after deletes at once and holds the answer past a short client timeout."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(slow_after=1.0, slow_seconds=30.0)) as server,
        DeleteClient(KEY, base_url=server.url, timeout=0.2) as client,
    ):
        outcome = await client.delete_batch(batch)
        assert outcome == Outcome(Kind.TRANSIENT, None, message="timed out", maybe_applied=True)
        assert server.deleted == set(batch)
        assert server.stats.faults["slow_after"] == 1


async def test_fault_slow_after_answer_does_arrive() -> None:
    """A slow_after answer, when waited for, is the normal 200."""
    batch = ids(3)
    async with (
        FakeImageKit(KEY, faults=Faults(slow_after=1.0, slow_seconds=0.05)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcome = await client.delete_batch(batch)
    assert outcome == Outcome(Kind.SUCCESS, 200, deleted=tuple(batch))


async def test_fault_transient_207_goes_away_on_retry() -> None:
    """transient_207 errors some ids (not deleted); sent again, they are deleted."""
    pending = ids(40)
    async with (
        FakeImageKit(KEY, faults=Faults(seed=3, transient_207=0.3)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        first = await client.delete_batch(pending)
        assert first.status == 207
        assert first.errors
        assert {e.error for e in first.errors} == {"Internal error, please retry."}
        errored = [e.file_id for e in first.errors]
        assert all(server.exists(i) for i in errored)
        pending = errored
        for _ in range(20):
            outcome = await client.delete_batch(pending)
            assert outcome.kind is Kind.SUCCESS
            pending = [e.file_id for e in outcome.errors]
            if not pending:
                break
    assert pending == []
    assert server.deleted == set(ids(40))
    assert server.stats.faults["transient_207"] >= len(errored)


async def test_fault_permanent_errors_never_delete() -> None:
    """permanent_errors ids come back as 207 errors every time and are never deleted."""
    locked = ids(2, "d")
    batch = [*ids(3), *locked]
    async with (
        FakeImageKit(KEY, faults=Faults(permanent_errors=frozenset(locked))) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        first = await client.delete_batch(batch)
        again = await client.delete_batch(locked)
    assert first.status == 207
    assert first.deleted == tuple(ids(3))
    assert [e.file_id for e in first.errors] == locked
    assert {e.error for e in again.errors} == {"File is locked and cannot be deleted."}
    assert again.deleted == ()
    assert server.deleted == set(ids(3))


async def test_fault_throttle_burst_is_a_429_with_headers() -> None:
    """throttle_burst -> 429 with the ImageKit headers, though no rate is set; nothing deleted."""
    async with FakeImageKit(KEY, faults=Faults(throttle_burst=1.0)) as server:
        status, _, headers = await post(server, file_ids=ids(2))
        assert status == 429
        assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "X-RateLimit-Interval"} <= set(headers)
        assert server.deleted == set()
        assert server.stats.faults["throttle_burst"] == 1


async def test_fault_latency_keeps_requests_in_flight_together() -> None:
    """latency holds each answer, so concurrent requests overlap (max_in_flight rises)."""
    async with (
        FakeImageKit(KEY, faults=Faults(latency=0.05, latency_jitter=0.01)) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        outcomes = await asyncio.gather(*(client.delete_batch([i]) for i in ids(6)))
    assert all(o.kind is Kind.SUCCESS for o in outcomes)
    assert server.stats.max_in_flight == 6
    assert server.stats.in_flight == 0


async def test_without_latency_answers_do_not_overlap() -> None:
    """The control for the test above: with no latency an answer never yields."""
    async with (
        FakeImageKit(KEY) as server,
        DeleteClient(KEY, base_url=server.url) as client,
    ):
        await asyncio.gather(*(client.delete_batch([i]) for i in ids(6)))
    assert server.stats.max_in_flight == 1


async def _fault_run(seed: int) -> list[tuple[int, Any]]:
    faults = Faults(seed=seed, error_5xx=0.2, html_error=0.1, transient_207=0.1)
    answers = []
    async with FakeImageKit(KEY, faults=faults) as server:
        for n in range(15):
            status, data, _ = await post(server, file_ids=ids(10, f"{n:x}"))
            answers.append((status, data))
    return answers


async def test_same_seed_repeats_the_same_faults() -> None:
    """The same seed gives the same answers in the same order; another seed differs."""
    first, second, other = await _fault_run(11), await _fault_run(11), await _fault_run(12)
    assert first == second
    assert first != other
    assert {status for status, _ in first} >= {200, 207, 503}


# --- stats ---------------------------------------------------------------------------------


async def test_stats_count_requests_statuses_and_deletions(
    fake_server: FakeImageKit, client: DeleteClient
) -> None:
    """requests, by_status and ids_deleted count what happened; the stats endpoint agrees."""
    await client.delete_batch(ids(4))
    await client.delete_batch(ids(4))
    await post(fake_server, file_ids=[])
    await post(fake_server, file_ids=ids(1), auth=None)
    stats = fake_server.stats
    assert stats.requests == 4
    assert stats.by_status == {200: 1, 404: 1, 400: 1, 401: 1}
    assert stats.ids_deleted == 4
    assert stats.max_in_flight == 1
    async with (
        aiohttp.ClientSession() as session,
        session.get(fake_server.url + STATS_PATH) as response,
    ):
        assert response.status == 200
        data = await response.json()
    assert data == {
        "requests": 4,
        "by_status": {"200": 1, "400": 1, "401": 1, "404": 1},
        "faults": {},
        "in_flight": 0,
        "max_in_flight": 1,
        "ids_deleted": 4,
    }


async def test_repr_hides_the_key(fake_server: FakeImageKit) -> None:
    """The server's repr names its URL, never its key."""
    assert KEY not in repr(fake_server)
    assert fake_server.url in repr(fake_server)


# --- command line --------------------------------------------------------------------------


def test_server_from_args_reads_every_option(tmp_path: Path) -> None:
    """The fake-server options build the server they describe."""
    existing = tmp_path / "ids.txt"
    existing.write_text("a1\n\n  b2  \n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--private-key", "k1", "--existing", str(existing), "--rate", "5",
            "--window", "100/15", "--seed", "9", "--error-5xx", "0.1",
            "--permanent-error", "a1", "--slow-seconds", "2",
        ]
    )  # fmt: skip
    server = server_from_args(args)
    assert server.existing == {"a1", "b2"}
    assert server.faults.seed == 9
    assert server.faults.error_5xx == 0.1
    assert server.faults.permanent_errors == frozenset({"a1"})
    assert server.faults.slow_seconds == 2.0
    assert server._expected_auth == "Basic " + base64.b64encode(b"k1:").decode()


def test_bad_window_option_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """--window that is not LIMIT/SECONDS is a usage error naming the value."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--window", "fast"])
    assert "'fast'" in capsys.readouterr().err


async def test_fake_server_command_serves_and_stops_on_sigterm() -> None:
    """`python -m bulkdel fake-server --port 0` prints its URL, answers, exits 0 on SIGTERM."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bulkdel", "fake-server", "--port", "0", "--private-key", "k",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"fake ImageKit listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        assert int(match.group(2)) > 0
        async with DeleteClient("k", base_url=match.group(1)) as client:
            outcome = await client.delete_batch(ids(2))
        assert outcome == Outcome(Kind.SUCCESS, 200, deleted=tuple(ids(2)))
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "'200': 1" in err.decode()
