"""Settled ids are packed in Redis (``bulkdel.jobs.packing``): hex ids as bytes, others as
text, a batch's ids once with its buckets by count; the settle script writes exactly what
the Python encoding writes (a parity test on a real Redis)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulkdel.jobs import BatchOutcome, Submitter, connect
from bulkdel.jobs.packing import decode_result, pack_ids, result_fields, unpack_ids
from bulkdel.jobs.redis_keys import GROUP, JobKeys
from bulkdel.jobs.scripts import SETTLE
from tests.jobs.helpers import chunks, ids
from tests.redis_server import RedisServer

_ID_CHARS = "abcdefABCDEF0123456789_-xyz"
any_id = st.text(alphabet=_ID_CHARS, min_size=16, max_size=64)
hex_id = st.integers(8, 32).flatmap(
    lambda n: st.binary(min_size=n, max_size=n).map(lambda b: b.hex())
)


@given(st.lists(st.one_of(any_id, hex_id), max_size=100))
def test_any_valid_ids_come_back_as_they_went(values: list[str]) -> None:
    assert unpack_ids(pack_ids(values)) == values


def test_hex_ids_take_half_their_length() -> None:
    """A batch of 24-hex ids: 12 bytes an id and two of header; one other id in the batch
    costs a tag byte an id."""
    values = ids(100)
    assert len(pack_ids(values)) == 2 + 12 * 100
    mixed = [*values[:99], "Not_Hex-id_0123456789"]
    assert len(pack_ids(mixed)) == 1 + 13 * 99 + 1 + 21
    assert pack_ids([]) == b"" and unpack_ids(b"") == []
    with pytest.raises(ValueError, match="not packed"):
        unpack_ids(b"Xabc")


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Any]:
    client = connect(redis_server.url)
    yield client
    await client.aclose()


OUTCOMES = {
    "hex": lambda v: BatchOutcome(
        deleted=v[:95],
        missing=v[95:97],
        missing_after_retry=v[97:98],
        failed=[(v[98], "File is locked", 207, 3), (v[99], "timed out", None, 6)],
    ),
    "mixed": lambda v: BatchOutcome(deleted=[*v[:60], "UpperCaseId00000000"], missing=v[60:]),
    "text": lambda v: BatchOutcome(deleted=[f"File{i:016d}" for i in range(100)]),
    "deleted": lambda v: BatchOutcome(deleted=v),
}


@pytest.mark.parametrize("kind", sorted(OUTCOMES))
async def test_the_settle_script_packs_as_python_does(redis: Any, kind: str) -> None:
    """SETTLE's results entry is ``result_fields``' byte for byte, and reads back whole."""
    outcome: BatchOutcome = OUTCOMES[kind](ids(100))
    batch = [*outcome.deleted, *outcome.missing, *outcome.missing_after_retry]
    batch += [f[0] for f in outcome.failed]
    await Submitter(redis, kind).submit(chunks(batch), "fp")
    keys = JobKeys.of(kind)
    answer = await redis.xreadgroup(GROUP, "A", {keys.batches: ">"}, count=1)
    args = [GROUP, answer[0][1][0][0], "A", "0"]
    args += [" ".join(outcome.deleted), " ".join(outcome.missing)]
    args += [" ".join(outcome.missing_after_retry), outcome.failed_json(), 1, 0, "{}"]
    names = ("meta", "batches", "counts", "results", "marks", "workers", "settled")
    settle = redis.register_script(SETTLE)
    assert await settle(keys=[getattr(keys, n) for n in names], args=args) == 1
    entries = await redis.execute_command("XRANGE", keys.results, "-", "+", NEVER_DECODE=True)
    fields = entries[0][1]
    expected = {k.encode(): v for k, v in result_fields(outcome).items()}
    assert fields.keys() == expected.keys()
    assert fields[b"p"] == expected[b"p"] and fields[b"n"] == expected[b"n"]
    if b"f" in fields:
        assert json.loads(fields[b"f"]) == json.loads(expected[b"f"])
    assert decode_result(fields) == outcome


def test_an_earlier_releases_entries_are_still_read() -> None:
    """A job settled across an upgrade: entries with each bucket's ids as text, and an
    earlier report's marker (no outcome)."""
    a, b, c, d = ids(4)
    fields = {b"w": b"A", b"d": f"{a} {b}".encode(), b"m": c.encode(), b"r": b""}
    fields[b"f"] = json.dumps([[d, "File is locked", 207, 2]]).encode()
    assert decode_result(fields) == BatchOutcome(
        deleted=[a, b], missing=[c], failed=[(d, "File is locked", 207, 2)]
    )
    assert decode_result({b"snapshot": b"1"}) == BatchOutcome()
