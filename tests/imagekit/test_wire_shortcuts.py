"""The delete request's body built without ``json.dumps``, and the usual answer read without
``json.loads``: each gives what the long way gives, for every batch."""

from __future__ import annotations

import json

import pytest

from bulkdel.imagekit import classify
from bulkdel.imagekit.delete import ids_json
from tests.imagekit.wire import BATCH, no_headers

#: ids that JSON escapes: the long way for these
AWKWARD = [
    'a"quote',
    "back\\slash",
    "tab\there",
    "nul\x00",
    "del\x7f",
    "caf\u00e9",
    "\U0001f600",
]
#: ids the id rule refuses that JSON still holds as they are
PLAIN_TO_JSON = ["", "spaces are plain", "</script>", "{'x': [1]}"]


def _dumped(ids: list[str]) -> bytes:
    return json.dumps(ids, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "ids", [BATCH, BATCH[:1], ["A-z_09" * 4, "x" * 64], [BATCH[0], *PLAIN_TO_JSON]]
)
def test_plain_ids_are_joined_as_json_dumps_would(ids: list[str]) -> None:
    """Ids that JSON holds as they are: the bytes ``json.dumps`` gives."""
    assert ids_json(ids) == _dumped(ids)


@pytest.mark.parametrize("odd", AWKWARD)
def test_an_id_needing_escape_takes_the_long_way(odd: str) -> None:
    """One id that JSON would escape and the batch is not joined."""
    assert ids_json([BATCH[0], odd]) is None
    assert ids_json([odd, BATCH[0]]) is None


def test_empty_and_non_text_batches_take_the_long_way() -> None:
    assert ids_json([]) is None
    assert ids_json([BATCH[0], 7]) is None  # type: ignore[list-item]


def _spaced(ids: list[str]) -> bytes:
    return json.dumps({"successfullyDeletedFileIds": ids}).encode()


def _compact(ids: list[str]) -> bytes:
    return json.dumps({"successfullyDeletedFileIds": ids}, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "body",
    [
        _compact(BATCH),
        _spaced(BATCH),
        _compact(BATCH[::-1]),
        _compact(BATCH[:2]),
        _compact([*BATCH, "f" * 24]),
        json.dumps({"successfullyDeletedFileIds": BATCH, "errors": []}).encode(),
        json.dumps(
            {"successfullyDeletedFileIds": BATCH, "errors": [{"fileId": BATCH[0], "error": "x"}]}
        ).encode(),
        _compact(BATCH) + b" ",
        _compact(BATCH)[:-1],
        b"",
        b"<html>ok</html>",
    ],
)
@pytest.mark.parametrize("status", [200, 207, 404, 429, 500])
def test_the_sent_array_changes_no_outcome(body: bytes, status: int) -> None:
    """Whatever the answer, ``classify`` told the array sent says what it says untold."""
    sent = ids_json(BATCH)
    assert sent is not None
    assert classify(status, body, no_headers(), BATCH, sent=sent) == classify(
        status, body, no_headers(), BATCH
    )
