"""The keyset's rules on their own: what counts as seen, and answers it cannot page safely."""

from __future__ import annotations

import pytest

from bulkdel.errors import ListingError
from bulkdel.listing.cursor import Keyset, created_at, entry_key, is_file


def entry(file_id: str, created: str) -> dict[str, object]:
    return {"fileId": file_id, "createdAt": created}


def test_cursor_boundary_and_the_next_bound() -> None:
    """Files in the cursor second already seen are dropped; newer seconds move the cursor."""
    keyset = Keyset()
    assert keyset.bound() is None
    first = [entry("a", "2026-01-01T00:00:00.100Z"), entry("b", "2026-01-01T00:00:01.200Z")]
    assert keyset.take(first) == first
    assert keyset.bound() == 'createdAt >= "2026-01-01T00:00:01"'
    again = [entry("b", "2026-01-01T00:00:01.200Z"), entry("c", "2026-01-01T00:00:01.900Z")]
    assert keyset.take([entry("a", "2026-01-01T00:00:00.100Z"), *again]) == again[1:]
    keyset.passed()
    assert keyset.bound() == 'createdAt >= "2026-01-01T00:00:02"'
    assert keyset.take([entry("d", "2026-01-01T00:00:01.950Z")]) == []


def test_answers_that_cannot_be_paged_safely() -> None:
    """Unsorted pages, unreadable or missing createdAt, and a second paged whole that comes
    back, are fatal ListingErrors."""
    with pytest.raises(ListingError, match="not sorted"):
        Keyset().take([entry("a", "2026-01-02T00:00:00Z"), entry("b", "2026-01-01T00:00:00Z")])
    for bad in ({"fileId": "x", "createdAt": "yesterday"}, {"fileId": "x"}):
        with pytest.raises(ListingError, match="no readable createdAt") as caught:
            created_at(bad)
        assert caught.value.fatal
    keyset = Keyset()
    keyset.take([entry("a", "2026-01-01T00:00:00Z")])
    assert keyset.stuck().second == 0
    keyset.passed()
    with pytest.raises(ListingError, match="cannot page safely"):
        keyset.stuck()


def test_keys_and_types() -> None:
    """Folders are told apart by their id or path; only files are files; naive times are UTC."""
    assert entry_key({"folderId": "f1"}) == "f1"
    assert entry_key({"folderPath": "/a/"}) == "/a/"
    assert entry_key({"type": "folder"}) == '{"type": "folder"}'
    assert not is_file({"type": "folder"}) and is_file({})
    assert created_at({"createdAt": "2026-01-01T00:00:00"}).tzinfo is not None
