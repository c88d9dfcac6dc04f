local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-1} end
if state == 'cancelled' then return {-2} end
local result = {state, '0-0'}
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if last[1] then result[2] = last[1][1] end
local read = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                        'STREAMS', KEYS[2], ARGV[4] or '>')
if read and read[1] then
  for _, entry in ipairs(read[1][2]) do
    if entry[2] then result[#result + 1] = entry end
  end
end
return result
