"""Which ids de-duplicate as packed 12-byte keys: exactly those of 24 lowercase hex
characters, found for a whole chunk at once."""

from __future__ import annotations

import pytest

from bulkdel.dedupe.frame import packed_hex
from tests.helpers import hex_ids

A, B, C = hex_ids(3, start=0xABCDEF)


def test_hex_ids_are_packed_in_order() -> None:
    assert packed_hex([A, B, C]) == bytes.fromhex(A + B + C)
    assert packed_hex([A]) == bytes.fromhex(A)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [A.upper()],
        [A, B[:12] + B[12:].upper()],
        [A[:23], B + "0"],  # widths that add up to two ids
        [A + "00", B[:22]],
        [A[:12] + " " + A[13:]],  # whitespace fromhex would skip
        [A[:22] + "\t\n"],
        [A + "\n" + B],  # two ids in one value
        [A, B[:-1] + "g"],
        [A[:-2] + "\n", B],
    ],
)
def test_anything_else_is_not(values: list[str]) -> None:
    assert packed_hex(values) is None
