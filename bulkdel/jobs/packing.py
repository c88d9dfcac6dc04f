"""How a job keeps its settled ids in Redis: packed, a batch's ids once, buckets by count.

An ImageKit id is 24 lowercase hex characters: 12 bytes once packed. A settled batch is one
results entry (``scripts.SETTLE`` writes it; ``pack_ids`` and ``result_fields`` are the same
encoding in Python, checked against the script by a parity test):

* ``p``: the batch's ids, packed (below), in bucket order: deleted, missing, missing after
  retry, failed;
* ``n``: how many of them are deleted, missing and missing after retry (``"98 1 0"``); the
  rest are failed;
* ``f`` (only when some failed): JSON ``[[error, status, attempts], ...]``, in the order of
  the failed ids in ``p``.

Every entry has the same field names (``p``, ``n``), which a stream stores once a node. Packed
ids (``p``) are one of:

* ``H`` + one byte ``k`` + ``k`` bytes an id: every id is lowercase hex of length ``2k``;
* ``M`` + for each id, a tag byte then the id: tag ``0x80 | k`` for ``k`` bytes of a
  lowercase hex id of even length, tag ``n`` (< 128) for ``n`` characters of text;
* empty: no id.

Measured: ``benchmarks/JOB_MEMORY_RESULTS.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

from ..engine.batch_outcome import BatchOutcome

__all__ = ["decode_result", "pack_ids", "result_fields", "unpack_ids"]

#: lowercase hex of an even length (``fullmatch``)
_HEX: Final = re.compile(r"(?:[0-9a-f]{2})+")
_UNIFORM, _MIXED = ord("H"), ord("M")


def pack_ids(ids: Sequence[str]) -> bytes:
    """``ids`` packed (hex as bytes, any other id as text; see the module).

    Raises:
        ValueError: an id of 128 characters or more, or not ASCII (no valid id is).
    """
    if not ids:
        return b""
    size = len(ids[0])
    if all(len(i) == size and _packable(i) for i in ids):
        return bytes((_UNIFORM, size // 2)) + bytes.fromhex("".join(ids))
    packed = bytearray((_MIXED,))
    for file_id in ids:
        if _packable(file_id):
            packed.append(0x80 | len(file_id) // 2)
            packed += bytes.fromhex(file_id)
        elif len(file_id) < 128:
            packed.append(len(file_id))
            packed += file_id.encode("ascii")
        else:
            raise ValueError(f"id of {len(file_id)} characters cannot be packed: {file_id[:80]!r}")
    return bytes(packed)


def _packable(file_id: str) -> bool:
    """Lowercase hex of an even length under 256: packed as bytes."""
    return len(file_id) < 256 and bool(_HEX.fullmatch(file_id))


def unpack_ids(packed: bytes) -> list[str]:
    """The ids ``pack_ids`` (or the settle script) packed.

    Raises:
        ValueError: not packed ids.
    """
    if not packed:
        return []
    if packed[0] == _UNIFORM:
        size, body = packed[1], packed[2:]
        return [body[at : at + size].hex() for at in range(0, len(body), size)]
    if packed[0] != _MIXED:
        raise ValueError(f"not packed ids (starts with {packed[:1]!r})")
    ids: list[str] = []
    at = 1
    while at < len(packed):
        tag = packed[at]
        size = tag & 0x7F
        part = packed[at + 1 : at + 1 + size]
        ids.append(part.hex() if tag & 0x80 else part.decode("ascii"))
        at += 1 + size
    return ids


def result_fields(outcome: BatchOutcome) -> dict[str, bytes]:
    """The results entry of a settled batch (what ``scripts.SETTLE`` writes)."""
    ids = [*outcome.deleted, *outcome.missing, *outcome.missing_after_retry]
    ids += [f[0] for f in outcome.failed]
    counts = f"{len(outcome.deleted)} {len(outcome.missing)} {len(outcome.missing_after_retry)}"
    fields = {"p": pack_ids(ids), "n": counts.encode()}
    if outcome.failed:
        records = [[error, status, attempts] for _, error, status, attempts in outcome.failed]
        fields["f"] = json.dumps(records, ensure_ascii=True).encode()
    return fields


def decode_result(fields: dict[bytes, bytes]) -> BatchOutcome:
    """The outcome a results entry records (also one an earlier release wrote).

    Raises:
        ValueError: an entry this version cannot read.
    """
    if b"p" not in fields:
        return _text_result(fields)
    ids = unpack_ids(fields[b"p"])
    deleted, missing, after = (int(n) for n in fields[b"n"].split())
    first_failed = deleted + missing + after
    records = json.loads(fields[b"f"]) if b"f" in fields else []
    if len(records) != len(ids) - first_failed:
        raise ValueError(f"a results entry names {len(ids)} ids but counts do not add up")
    return BatchOutcome(
        deleted=ids[:deleted],
        missing=ids[deleted : deleted + missing],
        missing_after_retry=ids[deleted + missing : first_failed],
        failed=[
            (file_id, str(error), status, int(attempts))
            for file_id, (error, status, attempts) in zip(ids[first_failed:], records, strict=True)
        ],
    )


def _text_result(fields: dict[bytes, bytes]) -> BatchOutcome:
    """An entry of an earlier release (each bucket's ids as text; a job settled across an
    upgrade has both kinds), or one that records no outcome (an earlier report's marker)."""
    failed = json.loads(fields.get(b"f") or b"[]")
    return BatchOutcome(
        deleted=fields.get(b"d", b"").decode().split(),
        missing=fields.get(b"m", b"").decode().split(),
        missing_after_retry=fields.get(b"r", b"").decode().split(),
        failed=[(str(i), str(e), s, int(a)) for i, e, s, a in failed],
    )
