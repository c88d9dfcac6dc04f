local state = redis.call('HGET', KEYS[1], 'state')
if not state then return -1 end
if state ~= 'submitting' then return 0 end
redis.call('HSET', KEYS[1], 'submit_seen', redis.call('TIME')[1], 'resubmit', ARGV[1])
return 1
