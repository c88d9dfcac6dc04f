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
        table.concat(taken, ' '), redis.call('LLEN', KEYS[6]), redis.call('LLEN', KEYS[7])}
