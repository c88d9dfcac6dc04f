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
if ARGV[13] and ARGV[13] ~= '' then redis.call('RPUSH', KEYS[6], ARGV[13]) end
redis.call('HSET', KEYS[1], 'position', ARGV[2], 'digest', ARGV[11])
if ARGV[10] == '1' then redis.call('HSET', KEYS[1], 'state', 'submitted') end
return 1
