"""The Lua scripts of a distributed job (``bulkdel/jobs/*.lua``, read once at import): each is
one atomic step on the Redis server. Their calling conventions are documented here.

Conventions: ``KEYS`` are a job's keys (``JobKeys``); a script that finds no job metadata
returns -1 (the job is gone, as after a restart without persistence), never a success.
Id lists travel as one space-joined string: a valid id has no space.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final


def _load(name: str) -> str:
    """The source of ``NAME.lua`` beside this module (package data), read once at import."""
    return (files(__package__) / f"{name}.lua").read_text(encoding="utf-8")


#: Create the job, or check that a resubmission is the same input.
#: KEYS: meta, batches. ARGV: group, fingerprint, batch size, source kind.
#: Returns {created 1|0, state, position, content digest at that position};
#: {-2, fingerprint} when the input differs.
CREATE: Final = _load("create")

#: Commit what the submitter read since the last commit: one batch (maybe none), invalid
#: records, duplicates, counts and the input position, all or nothing; only on top of the
#: position the caller committed last (compare and set), so that a retry of an applied
#: commit changes nothing and a Redis that went back in time (restored from an older
#: snapshot) is told apart from one that did not.
#: KEYS: meta, batches, counts, invalid, duplicates, manifest.
#: ARGV: most open batches, position, ids, read, invalid, duplicate, unique, invalid
#: records (JSON lines), duplicate ids, final (1 when the input is all read), the digest
#: of the input's content up to the position, the position this commit follows, the file
#: records of the input read up to the batch's last id (JSON lines: in Redis with the batch,
#: never after it).
#: Returns 1 committed (now, or by an earlier run of this call); {0, open batches} too many
#: open batches (try again later); -1 gone; -2 cancelled; {-3, position} Redis holds an
#: older position (rolled back; the highest position seen is kept as ``high``: batches
#: re-submitted below it may have been sent before); {-4, position} another submitter is
#: ahead.
SUBMIT: Final = _load("submit")

#: Settle one batch, once: acknowledge it and, unless another settle recorded it already,
#: record its outcome. Keyed by the entry (``settled``): run twice by the same worker (a
#: retry), the second run changes nothing; a batch Redis forgot (restored from an older
#: snapshot: not pending, never settled) still has its outcome recorded.
#: The settle that finishes the job (submitted whole, no batch left) notes ``finished_at``
#: and, when the job has a retention (meta ``keep``), sets it on every key it was given
#: that has none (``RETAIN`` does the same for the keys a settle is not given).
#: KEYS: meta, batches, counts, results, marks, workers, settled (``JobKeys.settle_keys``:
#: these, then invalid, duplicates and manifest, which then expire with the rest).
#: ARGV: group, entry id, worker, in flight earlier (0|1), deleted, missing (not after
#: retry), missing after retry, failures (JSON list of [id, error, status, attempts]),
#: requests sent, retried, answers by status (JSON object).
#: Returns 1 on time; 0 late (taken over and settled by another: only a "deleted" is kept,
#: which wins over that settle's missing or failed); -1 gone. Settled ids are packed
#: (``jobs.packing``).
SETTLE: Final = _load("settle")

#: A job's retention: with a keep (seconds), note it; once the job is finished, every key
#: given without a TTL expires ``keep`` seconds after ``finished_at`` (a new keep resets
#: every key's). Idempotent; what a finishing settle does, for the keys it is not given
#: and for a job the submitter's last commit finished.
#: KEYS: meta, batches, then every other key of the job. ARGV: keep seconds, or "".
#: Returns the TTL set (seconds), 0 not finished or no keep, -1 gone.
RETAIN: Final = _load("retain")

#: The heartbeat: reset the idle time of the worker's own pending batches (XCLAIM JUSTID
#: does not raise their delivery count) so that a slow but live worker keeps them.
#: KEYS: meta, batches, workers. ARGV: group, worker, entry ids...
#: Returns {state, ids no longer this worker's...}; {-1} gone.
HEARTBEAT: Final = _load("heartbeat")

#: Give back batches a stopping worker will not send: still its own, they get an idle time
#: past any visibility timeout (XCLAIM ... IDLE ... JUSTID: the delivery count stays).
#: KEYS: batches. ARGV: group, worker, idle ms, entry ids... Returns how many.
RELEASE: Final = _load("release")

#: Take new batches, only while the job may be worked on: the state check and the read are
#: one step, so that no batch is taken after a cancel. Never blocks (a script cannot): the
#: caller waits outside it, on new entries after the last one (``XREAD BLOCK``).
#: A take (or a takeover) retried after its answer was lost reads with start ``0``: the
#: worker's own pending entries again (its caller keeps those it does not hold), none new.
#: KEYS: meta, batches. ARGV: group, worker, count, start (``>`` new, ``0`` own again).
#: Returns {state, last entry id, entries...}; {-1} gone; {-2} cancelled.
TAKE: Final = _load("take")

#: Take over batches idle past the visibility timeout (``XAUTOCLAIM``), only while the job
#: may be worked on, in the same step as the state check (see ``TAKE``).
#: KEYS: meta, batches. ARGV: group, worker, min idle ms, cursor, count.
#: Returns {state, next cursor, entries...}; {-1} gone; {-2} cancelled.
TAKEOVER: Final = _load("takeover")

#: One consistent view of the job for its report, in one step: the counts, the last entry
#: of the results (the report reads outcomes up to it: later ones are later settles; "0-0"
#: when there is none), the length of the input
#: record lists, and a copy of the open batches with their consumer group (``COPY``: done in
#: the server, its cost bounded by the open batches, the submitter's ``max_open``), which
#: the report reads a page at a time and deletes; it expires on its own if the report dies.
#: KEYS: meta, batches, counts, results, workers, invalid, duplicates, the copy.
#: ARGV: group, seconds the copy is kept.
#: Returns {last result, state, created, settled_at, counts (flat), workers (flat), open
#: batches, held batches, invalid records, duplicate records}; {-1} gone.
SNAPSHOT: Final = _load("snapshot")

#: The submitter's sign of life, while the job is submitting: the Redis server's time, and
#: the command that runs the same submit again (said when no submitter is seen).
#: KEYS: meta. ARGV: the command. Returns 1; 0 not submitting (nothing written); -1 gone.
SUBMIT_BEAT: Final = _load("submit_beat")
