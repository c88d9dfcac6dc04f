"""Put a job's input on its Redis Stream: read, validate and de-duplicate as ``delete`` does.

Each commit is one script call that adds one batch and records, with it, the invalid and
repeated ids read since the last commit, the counts and the input position; so a submitter
killed at any point has committed whole batches only, and submitting the same input again
resumes after the last one (the ids before it are read again only to rebuild the
de-duplication). The stream holds only unsettled batches (a settled batch is deleted from it);
while it holds ``max_open`` of them the submitter waits, so Redis memory stays bounded
however long the input is.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .._engine.dedupe import Deduper
from ..core.redis_connection import RedisWait, url_of
from ..core.stop import StopSignal
from ..engine.ingest import Accepted, Batches, Ingest
from ..engine.sources import Chunk
from ..errors import RedisError, UsageError
from ..models import MAX_BATCH
from ..record.manifest import manifest_lines
from . import redisio
from .input_digest import InputDigest
from .redis_keys import GROUP, REGISTRY, JobKeys
from .scripts import CREATE, SUBMIT
from .submit_watch import beating, resubmit_command

if TYPE_CHECKING:
    from redis.asyncio import Redis

#: unsettled batches the stream may hold before the submitter waits
MAX_OPEN: Final = 1000
#: invalid or repeated records held before they are committed without a batch
_RECORDS_PER_COMMIT: Final = 1000
#: how long to wait, at first and at most, while the stream is full
_FULL_WAIT: Final = (0.02, 0.5)


@dataclass
class SubmitResult:
    """What one ``submit`` call did.

    Attributes:
        resumed_at: input items skipped because an earlier submit committed them.
        batches: batches added by this call.
        complete: the whole input is on the stream.
        cancelled: the job was cancelled while submitting.
        rolled_back: times Redis was found behind what this submit had committed (restored
            from an older snapshot), and the input read again from what it held.
    """

    resumed_at: int = 0
    batches: int = 0
    complete: bool = False
    cancelled: bool = False
    rolled_back: int = 0


class _Records:
    """Invalid and repeated items read and not committed yet, in input order."""

    def __init__(self) -> None:
        self._invalid: list[tuple[int, str]] = []
        self._duplicates: list[tuple[int, str]] = []
        #: each chunk's file records (JSON lines), at the input position of its first item
        self._files: list[tuple[int, str]] = []
        #: what ``upto`` took: JSON lines of the invalid items, the repeated ids, and the
        #: file records of every chunk that began at or before the position
        self.invalid: list[str] = []
        self.duplicates: list[str] = []
        self.files: list[str] = []

    def __len__(self) -> int:
        return len(self._invalid) + len(self._duplicates)

    def add(self, accepted: Accepted) -> None:
        source = accepted.source
        self._invalid += [
            (at, _invalid(source, line, value, problem or ""))
            for at, (line, value, problem) in accepted.invalid
        ]
        self._duplicates += [(at, value) for at, (_, value, _) in accepted.duplicates]

    def add_files(self, first: int, records: list[dict[str, Any]]) -> None:
        """The file records of a chunk whose first item is at input position ``first``:
        committed with the first batch that holds any of its ids (as ``delete`` writes its
        manifest before a chunk reaches the pipeline), so none is deleted unrecorded."""
        self._files.append((first, manifest_lines(records)))

    def upto(self, position: int) -> _Records:
        """Takes out the records at or before input ``position``."""
        taken = _Records()
        held_out = (
            (self._invalid, taken.invalid),
            (self._duplicates, taken.duplicates),
            (self._files, taken.files),
        )
        for held, out in held_out:
            n = bisect_right(held, position, key=lambda record: record[0])
            out += [record for _, record in held[:n]]
            del held[:n]
        return taken


class Submitter:
    """Submits one job's input to Redis.

    Args:
        redis: an asyncio client (``bulkdel.jobs.connect``).
        job: the job's name.
        batch_size: ids a batch, 1..100.
        max_open: unsettled batches the stream may hold before submitting waits.
        stop: ends waits (for Redis, or for room on the stream).
        wait: how to wait for Redis through an outage; ``RedisWait`` defaults if None.
        on_full: called once, with the open batches, the first time the stream is full and
            the submitter waits for workers (the CLI says so on its terminal).
        resubmit: the command that runs this submit again, kept in Redis while it runs:
            if it stops (or Redis goes back to before its end), workers, ``job status``
            and ``job report`` say to run it again (``submit_watch``).
    """

    def __init__(
        self,
        redis: Redis,
        job: str,
        *,
        batch_size: int = MAX_BATCH,
        max_open: int = MAX_OPEN,
        stop: StopSignal | None = None,
        wait: RedisWait | None = None,
        on_full: Callable[[int], None] | None = None,
        resubmit: str | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH:
            raise UsageError(f"batch_size must be 1..{MAX_BATCH}, got {batch_size}", "batch_size")
        self.redis = redis
        self.keys = JobKeys.of(job)
        self.batch_size = batch_size
        self.max_open = max(1, max_open)
        self.stop = stop or StopSignal()
        self.wait = wait or RedisWait(url_of(redis))
        self._create = redis.register_script(CREATE)
        self._submit = redis.register_script(SUBMIT)
        self.result = SubmitResult()
        self.on_full = on_full
        self.resubmit = resubmit or resubmit_command(job, None)
        self._said_full = False
        #: what identifies the input read so far: a hash of every item's value, in order
        self._content = InputDigest()
        #: the position and content digest Redis holds for the job
        self._committed: tuple[int, str] = (0, "")
        #: the position this submitter committed last (each commit is compared with it)
        self._position = 0

    async def submit(
        self,
        chunks: AsyncIterable[Chunk],
        fingerprint: str,
        *,
        resumable: bool = True,
        reopen: Callable[[], AsyncIterable[Chunk]] | None = None,
    ) -> SubmitResult:
        """Read ``chunks`` to the end and put every new id on the job's stream.

        Args:
            chunks: the input (files, an iterable, or a listing).
            fingerprint: what identifies the input; a job of that name with another
                fingerprint is refused.
            resumable: the input reads the same again (files); a listing is not.
            reopen: the same input from its start again (files; not stdin): when Redis
                went back in time (restored from an older snapshot), the input is read
                again from the position Redis holds.

        Raises:
            UsageError: the job exists for another input, or cannot be resumed; another
                submitter is ahead of this one.
            JobGoneError: the job vanished from Redis while submitting.
            RedisError: Redis went back in time and ``reopen`` is None (run the same submit
                again: it resumes from what Redis holds).
        """
        async with beating(self.redis, self.keys, self.resubmit):
            return await self._submit_all(chunks, fingerprint, resumable, reopen)

    async def _submit_all(
        self,
        chunks: AsyncIterable[Chunk],
        fingerprint: str,
        resumable: bool,
        reopen: Callable[[], AsyncIterable[Chunk]] | None,
    ) -> SubmitResult:
        while True:
            try:
                return await self._submit_once(chunks, fingerprint, resumable)
            except _RolledBack as back:
                close = getattr(chunks, "aclose", None)
                if close is not None:
                    await close()
                if reopen is None or not resumable:
                    again = "; run the same submit again: it goes on from what Redis holds"
                    raise RedisError(self.wait.url, f"{back}{again}") from None
                redisio.log.warning("%s: reading the input again from there", back)
                self.result.rolled_back += 1
                self._content = InputDigest()
                chunks = reopen()

    async def _submit_once(
        self, chunks: AsyncIterable[Chunk], fingerprint: str, resumable: bool
    ) -> SubmitResult:
        keys = self.keys
        answer = await redisio.call(
            keys,
            lambda: self._create(
                keys=[keys.meta, keys.batches],
                args=[GROUP, fingerprint, self.batch_size, "files" if resumable else "listing"],
            ),
            self.stop,
            wait=self.wait,
        )
        if answer[0] == -2:
            raise UsageError(f"job {keys.name!r} exists for another input; pick another job name")
        # Registered before its first batch, for standing workers (``fleet``); idempotent.
        await redisio.call(keys, _register(self.redis, keys.name), self.stop, wait=self.wait)
        state, position = str(answer[1]), int(answer[2])
        if state == "cancelled":
            raise UsageError(f"job {keys.name!r} was cancelled; pick another job name")
        self._committed = (position, str(answer[3]) if len(answer) > 3 else "")
        self._position = position
        if state == "submitted":
            if resumable:
                await self._same_whole(chunks)
            self.result.complete = True
            return self.result
        if answer[0] == 0 and position and not resumable:
            raise UsageError(
                f"job {keys.name!r} was partly submitted from a listing, which cannot be "
                "read again the same way; submit to a new job name (deleted files are not "
                "listed again)"
            )
        self.result.resumed_at = position
        await self._read(chunks, position)
        return self.result

    async def _read(self, chunks: AsyncIterable[Chunk], skip: int) -> None:
        # The ingest of ``bulkdel delete`` (``engine.ingest``): the same id rule,
        # de-duplication and batch cuts; ids up to ``skip`` only rebuild the de-duplication.
        ingest = Ingest(Deduper(), skip=skip)
        try:
            await self._read_new(chunks, ingest)
        finally:
            await ingest.aclose()

    async def _read_new(self, chunks: AsyncIterable[Chunk], ingest: Ingest) -> None:
        """Commit each batch with the invalid and repeated items before its last id."""
        cut = Batches(self.batch_size)
        records = _Records()
        async for chunk in chunks:
            self._digest(chunk)
            accepted = await ingest.accept(chunk)
            records.add(accepted)
            first = accepted.end - len(chunk.items) + 1
            if chunk.records and accepted.end > ingest.skip:
                records.add_files(first, chunk.records)
            for ids, at in cut.add(accepted.fresh, accepted.fresh_at):
                if not await self._commit(ids, records.upto(at), at):
                    return
            if len(records) >= _RECORDS_PER_COMMIT:
                # Records are not held without bound: committed now, with a short batch.
                end = accepted.end
                if not await self._commit(cut.rest(), records.upto(end), end):
                    return
        if ingest.position < ingest.skip:
            self._refuse()
        end = ingest.position
        await self._commit(cut.rest(), records.upto(end), end, final=True)

    def _digest(self, chunk: Chunk) -> None:
        """Hash the chunk's items: the input must be the one committed (a resumed stdin
        holds other ids otherwise)."""
        if not self._content.feed([value for _, value, _ in chunk.items], self._committed):
            self._refuse()

    async def _same_whole(self, chunks: AsyncIterable[Chunk]) -> None:
        """A finished job is submitted again: the whole input must be the one it holds."""
        async for chunk in chunks:
            self._digest(chunk)
            self._content.at(self._content.read)
        if self._content.read != self._committed[0] and self._committed[1]:
            self._refuse()

    def _refuse(self) -> None:
        at = self._committed[0]
        raise UsageError(
            f"job {self.keys.name!r} holds other input than this (its first {at:,} input "
            "items differ); pick another job name",
            "sources",
        )

    async def _commit(
        self, ids: list[str], records: _Records, position: int, *, final: bool = False
    ) -> bool:
        """Commit one batch (maybe empty) and the records before ``position``; waits while
        the stream is full. False when cancelled."""
        keys = self.keys
        args = _submit_args(self.max_open, ids, records, position, final)
        args += [self._content.at(position), self._position, "".join(records.files)]
        script_keys = [keys.meta, keys.batches, keys.counts, keys.invalid, keys.duplicates]
        script_keys.append(keys.manifest)
        wait = _FULL_WAIT[0]
        while True:
            answer = await redisio.call(
                keys, lambda: self._submit(keys=script_keys, args=args), self.stop, wait=self.wait
            )
            redisio.check_gone(keys, answer)
            if isinstance(answer, list) and answer[0] == 0:
                if not self._said_full and self.on_full is not None:
                    self._said_full = True
                    self.on_full(int(answer[1]))
                await self.stop.sleep(wait)  # the stream is full: workers are behind
                wait = min(_FULL_WAIT[1], wait * 2)
                continue
            self._refuse_behind_or_ahead(answer)
            if answer == -2:
                self.result.cancelled = True
                return False
            if answer == 1:
                break
        self._position = position
        if ids:
            self.result.batches += 1
        self.result.complete = final
        return True

    def _refuse_behind_or_ahead(self, answer: object) -> None:
        """SUBMIT's {-3, position}: Redis went back in time; {-4, position}: another
        submitter is ahead."""
        if not isinstance(answer, list):
            return
        at = int(answer[1])
        if answer[0] == -3:
            raise _RolledBack(self.keys.name, at, self._position)
        raise UsageError(
            f"job {self.keys.name!r} is being submitted by another process (at input "
            f"item {at:,}); run one submit a job"
        )


class _RolledBack(Exception):
    """Redis holds an older position than this submitter committed."""

    def __init__(self, job: str, at: int, mine: int) -> None:
        super().__init__(
            f"job {job!r}: Redis holds its input up to item {at:,}, behind the {mine:,} "
            "this submit committed (restored from an older snapshot?)"
        )


def _submit_args(
    max_open: int, ids: list[str], records: _Records, position: int, final: bool
) -> list[str | int]:
    """SUBMIT's first ten arguments (``scripts.SUBMIT``)."""
    invalid, duplicates = records.invalid, records.duplicates
    return [
        max_open,
        position,
        " ".join(ids),
        len(ids) + len(invalid) + len(duplicates),
        len(invalid),
        len(duplicates),
        len(ids),
        "".join(invalid),
        " ".join(duplicates),
        "1" if final else "0",
    ]


def _register(redis: Redis, job: str) -> Callable[[], Awaitable[int]]:
    """Adds ``job`` to the registry of jobs (``REGISTRY``)."""
    return lambda: redis.sadd(REGISTRY, job)


def _invalid(source: str, line: int, value: str, reason: str) -> str:
    record = {"source": source, "line": line, "value": value, "reason": reason}
    return json.dumps(record, ensure_ascii=True) + "\n"
