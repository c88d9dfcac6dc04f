local meta = redis.call('HMGET', KEYS[1], 'state', 'created', 'settled_at')
if not meta[1] then return {-1} end
local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
local marker = last[1] and last[1][1] or '0-0'
local open = redis.call('XLEN', KEYS[2])
local held = 0
if open > 0 then
  held = redis.call('XPENDING', KEYS[2], ARGV[1])[1]
  redis.call('COPY', KEYS[2], KEYS[8], 'REPLACE')
  redis.call('EXPIRE', KEYS[8], ARGV[2])
end
return {marker, meta[1], meta[2] or '', meta[3] or '', redis.call('HGETALL', KEYS[3]),
        redis.call('HGETALL', KEYS[5]), open, held, redis.call('LLEN', KEYS[6]),
        redis.call('LLEN', KEYS[7])}
