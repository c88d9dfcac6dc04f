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
