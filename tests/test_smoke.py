"""The package imports and its public API is what __all__ says."""

from __future__ import annotations

import bulkdel


def test_all_is_sorted_and_importable() -> None:
    """Every name in __all__ exists and the list is sorted."""
    assert list(bulkdel.__all__) == sorted(bulkdel.__all__)
    for name in bulkdel.__all__:
        assert hasattr(bulkdel, name), name
