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
