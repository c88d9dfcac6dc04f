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
local acked = redis.call('XACK', KEYS[2], group, entry)
-- a batch Redis forgot (not pending, never settled) may come back re-submitted: its ids are
-- marked too, so that the report merges their outcomes instead of listing them twice
local redelivered = ARGV[4] == '1' or acked == 0
  or (pending[1] ~= nil and tonumber(pending[1][4]) > 1)
if acked == 0 and prior then
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
