if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local group, entry, worker = ARGV[1], ARGV[2], ARGV[3]
local counts, marks, workers = KEYS[3], KEYS[5], KEYS[6]
local prior = redis.call('HGET', KEYS[7], entry)
if prior == worker then return 1 end
-- ids packed as jobs/packing.py describes (pack_ids): hex as bytes, any other id as text
local HEX = {}
for i = 0, 255 do HEX[string.format('%02x', i)] = string.char(i) end
local function hex(id)
  return #id % 2 == 0 and #id > 0 and #id < 256 and not string.find(id, '[^0-9a-f]')
end
local function pack(ids)
  if #ids == 0 then return '' end
  local size, uniform = #ids[1], true
  for _, id in ipairs(ids) do
    if #id ~= size or not hex(id) then uniform = false break end
  end
  local parts = {uniform and 'H' .. string.char(size / 2) or 'M'}
  for i, id in ipairs(ids) do
    if uniform then
      parts[i + 1] = (string.gsub(id, '%x%x', HEX))
    elseif hex(id) then
      parts[i + 1] = string.char(128 + #id / 2) .. string.gsub(id, '%x%x', HEX)
    else
      parts[i + 1] = string.char(#id) .. id
    end
  end
  return table.concat(parts)
end
local function split(text)
  local ids = {}
  for id in string.gmatch(text, '%S+') do ids[#ids + 1] = id end
  return ids
end
-- the settle that finishes the job (submitted whole, no batch left) starts its retention
-- (meta 'keep', seconds): every key it was given expires then; see scripts.RETAIN
local function finish()
  local meta = redis.call('HMGET', KEYS[1], 'state', 'keep')
  if meta[1] ~= 'submitted' or redis.call('XLEN', KEYS[2]) > 0 then return end
  redis.call('HSETNX', KEYS[1], 'finished_at', redis.call('TIME')[1])
  if not meta[2] then return end
  for _, key in ipairs(KEYS) do
    if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, meta[2]) end
  end
end
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
    redis.call('XADD', KEYS[4], '*', 'p', pack(moved), 'n', #moved .. ' 0 0')
    redis.call('HINCRBY', workers, worker .. '|deleted', #moved)
  end
  finish()
  return 0
end
local ids, tally = {}, {}
for _, code in ipairs({'d', 'm', 'r'}) do
  local part = split(ARGV[({d = 5, m = 6, r = 7})[code]])
  for _, id in ipairs(part) do
    ids[#ids + 1] = id
    if redelivered then redis.call('HSET', marks, id, code) end
  end
  tally[code] = #part
end
local failures, records = cjson.decode(ARGV[8]), {}
for i, f in ipairs(failures) do
  ids[#ids + 1] = f[1]
  records[i] = {f[2], f[3], f[4]}
  if redelivered then redis.call('HSET', marks, f[1], 'f') end
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
local entry_fields = {'p', pack(ids), 'n', tally.d .. ' ' .. tally.m .. ' ' .. tally.r}
if #records > 0 then
  entry_fields[5], entry_fields[6] = 'f', cjson.encode(records)
end
redis.call('XADD', KEYS[4], '*', unpack(entry_fields))
redis.call('XDEL', KEYS[2], entry)
redis.call('HSET', KEYS[7], entry, worker)
finish()
return 1
