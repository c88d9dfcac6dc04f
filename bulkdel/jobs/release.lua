local group, worker, n = ARGV[1], ARGV[2], 0
for i = 4, #ARGV do
  if redis.call('XPENDING', KEYS[1], group, ARGV[i], ARGV[i], 1, worker)[1] then
    redis.call('XCLAIM', KEYS[1], group, worker, 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n
