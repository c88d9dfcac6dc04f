"""``delete_batch`` in a task queue is called thousands of times: a finished call leaves
nothing of bulkdel's for the garbage collector (reference counting frees it)."""

from __future__ import annotations

import gc

from bulkdel import delete_batch
from tests.helpers import KEY, ThreadedServer, hex_ids


async def test_a_finished_call_leaves_no_cycle_of_bulkdels_objects(served: ThreadedServer) -> None:
    """With the collector off, one call's objects of bulkdel's are all freed by reference
    counting (fails before: the run and its batch runner pointed at each other)."""
    ids = hex_ids(200)
    server = served.server
    await delete_batch(ids[:100], private_key=KEY, base_url=server.url)  # imports, caches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        outcome = await delete_batch(ids[100:], private_key=KEY, base_url=server.url)
        gc.collect()
        ours = sorted(
            {
                type(o).__qualname__
                for o in gc.garbage
                if (getattr(type(o), "__module__", None) or "").startswith("bulkdel")
            }
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert sorted(outcome.deleted) == ids[100:]
    assert ours == []
