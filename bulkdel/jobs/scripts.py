"""The Lua scripts of a distributed job: each is one atomic step on the Redis server.

Conventions: ``KEYS`` are a job's keys (``JobKeys``); a script that finds no job metadata
returns -1 (the job is gone, as after a restart without persistence), never a success.
Id lists travel as one space-joined string: a valid id has no space.
"""

from __future__ import annotations

from typing import Final

#: Create the job, or check that a resubmission is the same input.
#: KEYS: meta, batches. ARGV: group, fingerprint, batch size, source kind.
#: Returns {created 1|0, state, position, content digest at that position};
#: {-2, fingerprint} when the input differs.
CREATE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'fingerprint', ARGV[2], 'state', 'submitting', 'position', 0,
             'batch_size', ARGV[3], 'source', ARGV[4], 'version', 1,
             'created', now[1] .. '.' .. string.format('%06d', now[2]))
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[2]) end
  redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[1], '0', 'MKSTREAM')
  return {1, 'submitting', '0', ''}
end
local meta = redis.call('HMGET', KEYS[1], 'fingerprint', 'state', 'position', 'digest')
if meta[1] ~= ARGV[2] then return {-2, meta[1]} end
return {0, meta[2], meta[3], meta[4] or ''}
"""

#: Commit what the submitter read since the last commit: one batch (maybe none), invalid
#: records, duplicates, counts and the input position, all or nothing; only on top of the
#: position the caller committed last (compare and set), so that a retry of an applied
#: commit changes nothing and a Redis that went back in time (restored from an older
#: snapshot) is told apart from one that did not.
#: KEYS: meta, batches, counts, invalid, duplicates.
#: ARGV: most open batches, position, ids, read, invalid, duplicate, unique, invalid
#: records (JSON lines), duplicate ids, final (1 when the input is all read), the digest
#: of the input's content up to the position, the position this commit follows.
#: Returns 1 committed (now, or by an earlier run of this call); {0, open batches} too many
#: open batches (try again later); -1 gone; -2 cancelled; {-3, position} Redis holds an
#: older position (rolled back; the highest position seen is kept as ``high``: batches
#: re-submitted below it may have been sent before); {-4, position} another submitter is
#: ahead.
SUBMIT: Final = """
local meta = redis.call('HMGET', KEYS[1], 'state', 'position', 'digest', 'high')
local state = meta[1]
if not state then return -1 end
if state == 'cancelled' then return -2 end
local at, after, new = tonumber(meta[2]), tonumber(ARGV[12]), tonumber(ARGV[2])
if at == new and new ~= after and meta[3] == ARGV[11] then return 1 end
if at < after then
  if tonumber(meta[4] or 0) < after then redis.call('HSET', KEYS[1], 'high', after) end
  return {-3, at}
end
if at > after then return {-4, at} end
if ARGV[3] ~= '' then
  local open = redis.call('XLEN', KEYS[2])
  if open >= tonumber(ARGV[1]) then return {0, open} end
  if after < tonumber(meta[4] or 0) then
    redis.call('XADD', KEYS[2], '*', 'ids', ARGV[3], 'e', '1')
  else
    redis.call('XADD', KEYS[2], '*', 'ids', ARGV[3])
  end
end
redis.call('HINCRBY', KEYS[3], 'read', ARGV[4])
redis.call('HINCRBY', KEYS[3], 'invalid', ARGV[5])
redis.call('HINCRBY', KEYS[3], 'duplicate', ARGV[6])
redis.call('HINCRBY', KEYS[3], 'unique', ARGV[7])
if ARGV[8] ~= '' then redis.call('RPUSH', KEYS[4], ARGV[8]) end
if ARGV[9] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[9]) end
redis.call('HSET', KEYS[1], 'position', ARGV[2], 'digest', ARGV[11])
if ARGV[10] == '1' then redis.call('HSET', KEYS[1], 'state', 'submitted') end
return 1
"""

#: Settle one batch, once: acknowledge it and, unless another settle recorded it already,
#: record its outcome. Keyed by the entry (``settled``): run twice by the same worker (a
#: retry), the second run changes nothing; a batch Redis forgot (restored from an older
#: snapshot: not pending, never settled) still has its outcome recorded.
#: KEYS: meta, batches, counts, results, marks, workers, settled.
#: ARGV: group, entry id, worker, in flight earlier (0|1), deleted, missing (not after
#: retry), missing after retry, failures (JSON list of [id, error, status, attempts]),
#: requests sent, retried, answers by status (JSON object).
#: Returns 1 on time; 0 late (taken over and settled by another: only a "deleted" is kept,
#: which wins over that settle's missing or failed); -1 gone.
SETTLE: Final = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local group, entry, worker = ARGV[1], ARGV[2], ARGV[3]
local counts, marks, workers = KEYS[3], KEYS[5], KEYS[6]
local prior = redis.call('HGET', KEYS[7], entry)
if prior == worker then return 1 end
redis.call('HINCRBY', counts, 'requests_sent', ARGV[9])
redis.call('HINCRBY', counts, 'requests_retried', ARGV[10])
for status, n in pairs(cjson.decode(ARGV[11])) do
  redis.call('HINCRBY', counts, 'status:' .. status, n)
end
redis.call('HINCRBY', workers, worker .. '|requests', ARGV[9])
local now = redis.call('TIME')
redis.call('HSET', workers, worker .. '|seen', now[1])
redis.call('HSET', KEYS[1], 'settled_at', now[1] .. '.' .. string.format('%06d', now[2]))
local pending = redis.call('XPENDING', KEYS[2], group, entry, entry, 1)
local redelivered = ARGV[4] == '1' or (pending[1] ~= nil and tonumber(pending[1][4]) > 1)
if redis.call('XACK', KEYS[2], group, entry) == 0 and prior then
  local moved, was = {}, {m = 'missing', r = 'missing', f = 'failed'}
  for id in string.gmatch(ARGV[5], '%S+') do
    local mark = redis.call('HGET', marks, id)
    if mark and mark ~= 'd' then
      redis.call('HINCRBY', counts, was[mark], -1)
      if mark == 'r' then redis.call('HINCRBY', counts, 'missing_after_retry', -1) end
      redis.call('HINCRBY', counts, 'deleted', 1)
      redis.call('HSET', marks, id, 'd')
      moved[#moved + 1] = id
    end
  end
  redis.call('HINCRBY', workers, worker .. '|late', 1)
  if #moved > 0 then
    redis.call('XADD', KEYS[4], '*', 'w', worker, 'late', '1', 'd', table.concat(moved, ' '))
    redis.call('HINCRBY', workers, worker .. '|deleted', #moved)
  end
  return 0
end
local tally = {}
for code, arg in pairs({d = 5, m = 6, r = 7}) do
  local n = 0
  for id in string.gmatch(ARGV[arg], '%S+') do
    n = n + 1
    if redelivered then redis.call('HSET', marks, id, code) end
  end
  tally[code] = n
end
local failures = cjson.decode(ARGV[8])
if redelivered then
  for _, f in ipairs(failures) do redis.call('HSET', marks, f[1], 'f') end
end
local missing = tally.m + tally.r
redis.call('HINCRBY', counts, 'deleted', tally.d)
redis.call('HINCRBY', counts, 'missing', missing)
redis.call('HINCRBY', counts, 'missing_after_retry', tally.r)
redis.call('HINCRBY', counts, 'failed', #failures)
redis.call('HINCRBY', counts, 'batches_settled', 1)
redis.call('HINCRBY', workers, worker .. '|batches', 1)
redis.call('HINCRBY', workers, worker .. '|deleted', tally.d)
redis.call('HINCRBY', workers, worker .. '|missing', missing)
redis.call('HINCRBY', workers, worker .. '|failed', #failures)
redis.call('XADD', KEYS[4], '*', 'w', worker, 'd', ARGV[5], 'm', ARGV[6], 'r', ARGV[7],
           'f', ARGV[8])
redis.call('XDEL', KEYS[2], entry)
redis.call('HSET', KEYS[7], entry, worker)
return 1
"""

#: The heartbeat: reset the idle time of the worker's own pending batches (XCLAIM JUSTID
#: does not raise their delivery count) so that a slow but live worker keeps them.
#: KEYS: meta, batches, workers. ARGV: group, worker, entry ids...
#: Returns {state, ids no longer this worker's...}; {-1} gone.
HEARTBEAT: Final = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-1} end
local group, worker = ARGV[1], ARGV[2]
local result = {state}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[2], group, ARGV[i], ARGV[i], 1, worker)
  if pending[1] then
    redis.call('XCLAIM', KEYS[2], group, worker, 0, ARGV[i], 'JUSTID')
  else
    result[#result + 1] = ARGV[i]
  end
end
redis.call('HSET', KEYS[3], worker .. '|seen', redis.call('TIME')[1])
return result
"""

#: Give back batches a stopping worker will not send: still its own, they get an idle time
#: past any visibility timeout (XCLAIM ... IDLE ... JUSTID: the delivery count stays).
#: KEYS: batches. ARGV: group, worker, idle ms, entry ids... Returns how many.
RELEASE: Final = """
local group, worker, n = ARGV[1], ARGV[2], 0
for i = 4, #ARGV do
  if redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, worker)[1] then
    redis.call('XCLAIM', KEYS[1], group, worker, 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n
"""

#: Take new batches, only while the job may be worked on: the state check and the read are
#: one step, so that no batch is taken after a cancel. Never blocks (a script cannot): the
#: caller waits outside it, on new entries after the last one (``XREAD BLOCK``).
#: KEYS: meta, batches. ARGV: group, worker, count.
#: Returns {state, last entry id, entries...}; {-1} gone; {-2} cancelled.
TAKE: Final = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-1} end
if state == 'cancelled' then return {-2} end
local result = {state, '0-0'}
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then result[2] = last[1][1] end
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                        'STREAMS', KEYS[2], '>')
if read then
  for _, entry in ipairs(read[1][2]) do result[#result + 1] = entry end
end
return result
"""

#: Take over batches idle past the visibility timeout (``XAUTOCLAIM``), only while the job
#: may be worked on, in the same step as the state check (see ``TAKE``).
#: KEYS: meta, batches. ARGV: group, worker, min idle ms, cursor, count.
#: Returns {state, next cursor, entries...}; {-1} gone; {-2} cancelled.
TAKEOVER: Final = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-1} end
if state == 'cancelled' then return {-2} end
local claimed = redis.call('XAUTOCLAIM', KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
                           'COUNT', ARGV[5])
local result = {state, claimed[1]}
for _, entry in ipairs(claimed[2]) do
  if entry and entry[2] then result[#result + 1] = entry end
end
return result
"""

#: One consistent view of the job for its report: the counts, the open batches (waiting, or
#: held by a worker) and a marker appended to the results, all in one step; the report reads
#: outcomes up to the marker. Its cost is bounded by the open batches (the submitter's
#: ``max_open``), never by the job's size.
#: KEYS: meta, batches, counts, results, workers. ARGV: group.
#: Returns {marker, state, created, settled_at, counts (flat), workers (flat), open batches,
#: held batches, waiting ids, held ids}; {-1} gone.
SNAPSHOT: Final = """
local meta = redis.call('HMGET', KEYS[1], 'state', 'created', 'settled_at')
if not meta[1] then return {-1} end
local marker = redis.call('XADD', KEYS[4], '*', 'snapshot', '1')
local open = redis.call('XLEN', KEYS[2])
local held = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[2], ARGV[1], '-', '+', 2 * open + 16)) do
  held[p[1]] = true
end
local waiting, taken, nheld = {}, {}, 0
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], '-', '+')) do
  local fields, ids = entry[2], ''
  for i = 1, #fields, 2 do
    if fields[i] == 'ids' then ids = fields[i + 1] end
  end
  if held[entry[1]] then
    taken[#taken + 1] = ids
    nheld = nheld + 1
  else
    waiting[#waiting + 1] = ids
  end
end
return {marker, meta[1], meta[2] or '', meta[3] or '', redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[5]), open, nheld, table.concat(waiting, ' '),
        table.concat(taken, ' ')}
"""
