"""A job's manifest: the file records its submitter read, written by ``job report``.

The submitter pushes each input chunk's records (a listing page's File objects, a JSONL
input's objects) to the job's ``manifest`` list in the same script call as the first batch
that holds any of the chunk's ids, so no worker can take a batch whose records are not in
Redis (as ``delete`` writes ``manifest.jsonl`` before a chunk reaches its pipeline). The
report copies the list to ``manifest.jsonl`` a page at a time, for ``verify`` and ``purge``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..record.disk import open_private, write_all
from ..record.manifest import IDS_ONLY, MANIFEST

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from .redis_keys import JobKeys

#: blobs read at once (each holds one input chunk's records: up to 1,000)
_PAGE: Final = 16


async def write_job_manifest(redis: Redis, keys: JobKeys, directory: Path) -> dict[str, Any]:
    """Write ``manifest.jsonl`` into ``directory``; ``summary.json``'s ``manifest`` section.

    A job of bare ids has no records: no file, and the note that says so; a listing job
    that listed nothing has an empty manifest."""
    length = int(await redis.llen(keys.manifest))
    listed = await redis.hget(keys.meta, "source") == "listing"
    if not length and not listed:
        return {"file": None, "records": 0, "note": IDS_ONLY}
    records = 0
    fd = open_private(directory / MANIFEST, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for start in range(0, length, _PAGE):
            page: Any = await redis.lrange(keys.manifest, start, min(start + _PAGE, length) - 1)
            data = "".join(page).encode()
            records += data.count(b"\n")
            write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return {"file": MANIFEST, "records": records, "note": None}
