"""A worker whose settles meet Redis out of memory (noeviction) raises one RedisError and
leaves nothing held: every batch it took is given back, claimable at once."""

from __future__ import annotations

import pytest

from bulkdel.errors import RedisError
from bulkdel.jobs import JobKeys, Submitter, Worker, connect
from tests.jobs.helpers import StandIn, chunks, ids
from tests.redis_server import RedisServer


async def test_out_of_memory_is_fatal_and_gives_back_what_was_held(
    redis_server: RedisServer,
) -> None:
    """OOM at the settle: RedisError naming out of memory; no batch held by the dead worker."""
    redis = connect(redis_server.url)
    try:
        await Submitter(redis, "oom", batch_size=10).submit(chunks(ids(100)), "fp")
        await redis.config_set("maxmemory-policy", "noeviction")
        await redis.config_set("maxmemory", "1")
        worker = Worker(redis, "oom", StandIn(), visibility_timeout=30)
        with pytest.raises(RedisError, match="out of memory"):
            await worker.run()
        await redis.config_set("maxmemory", "0")
        keys = JobKeys.of("oom")
        pending = await redis.xpending_range(keys.batches, "workers", "-", "+", 100)
        assert all(entry["time_since_delivered"] > 30_000 for entry in pending)
    finally:
        await redis.aclose()
