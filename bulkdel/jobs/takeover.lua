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
