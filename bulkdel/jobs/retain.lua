if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], 'keep', ARGV[1]) end
local meta = redis.call('HMGET', KEYS[1], 'state', 'keep', 'finished_at')
if meta[1] ~= 'submitted' or redis.call('XLEN', KEYS[2]) > 0 then return 0 end
local now = tonumber(redis.call('TIME')[1])
if not meta[3] then
  redis.call('HSET', KEYS[1], 'finished_at', now)
  meta[3] = now
end
if not meta[2] then return 0 end
local ttl = math.max(1, tonumber(meta[3]) + tonumber(meta[2]) - now)
for _, key in ipairs(KEYS) do
  if ARGV[1] ~= '' or redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ttl) end
end
return ttl
