-- An account's budget in Redis: a GCRA pacer, the gate a stated 429 closes, and the adaptive
-- pace controller (a port of bulkdel/budget/controller.py and pace.py), on the server's clock.
--
-- KEYS: 1 state (hash), 2 grant times of the last second (list), 3 answer times (list).
-- ARGV: 1 mode ('take' | 'count' | 'report'), 2 now in us since cfg.epoch ('' = TIME; tests only),
--       3 cfg (JSON: constants, fixed rate, horizon, ttl), then
--       take, count: 4 granted-at (us) of successes not reported yet, comma-separated ('' none);
--               'count' only counts them, 'take' then reserves a slot
--       report: 4 granted-at (us), 5 '429' or 'ok', 6 limit, 7 interval (s), 8 retry-after (s)
--               ('' where the answer did not say)
-- Reply: {verdict ('go' | 'wait' | 'ok'), delay us, slot us, rate ('' = unpaced), gate us, now us}
-- Times are microseconds since cfg.epoch (a recent epoch, so they stay exact as doubles) and
-- every number goes back as a string: Lua numbers returned to Redis are cut to integers.

local cfg = cjson.decode(ARGV[3])
local SPAN = 1000000
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = (tonumber(t[1]) - cfg.epoch) * SPAN + tonumber(t[2])
end

local function fmt(x)
  if x == nil then return '' end
  return string.format('%.17g', x)
end

local raw = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
local st = {
  tat = tonumber(h.tat), gate = tonumber(h.gate), rate = tonumber(h.rate),
  epoch = tonumber(h.epoch), acc = tonumber(h.acc) or 0, ref = tonumber(h.ref) or 0,
  lrr = tonumber(h.lrr), first = tonumber(h.first), ceil = {}, dropped = {},
}
for k, v in pairs(h) do
  if string.sub(k, 1, 2) == 'c:' then
    local c, at = string.match(v, '^([^|]+)|(.+)$')
    st.ceil[string.sub(k, 3)] = {tonumber(c), tonumber(at)}
  end
end

local function pace() return cfg.fixed or st.rate end

local function tolerance(rate)
  return (math.max(1, rate * cfg.burst) - 1) / rate * SPAN
end

-- drop the times older than a second from the head of a time-ordered list; its length
local function trim(key, at)
  while true do
    local head = redis.call('LINDEX', key, 0)
    if head and tonumber(head) < at - SPAN then redis.call('LPOP', key) else break end
  end
  return redis.call('LLEN', key)
end

local function span(at)
  local s = math.min(SPAN, at - (st.first or at))
  if s == 0 then s = SPAN / 100 end
  return s / SPAN
end

local function sent_rate(at) return trim(KEYS[2], at) / span(at) end

local function ceiling(at)
  local low = nil
  for interval, c in pairs(st.ceil) do
    if at - c[2] > cfg.ceiling_trust * SPAN then
      st.ceil[interval] = nil
      table.insert(st.dropped, 'c:' .. interval)
    elseif low == nil or c[1] < low then
      low = c[1]
    end
  end
  return low
end

local function set_rate(rate)
  st.rate = math.max(rate, cfg.min_rate)
  st.epoch = now
  st.acc, st.ref = 0, 0
end

local function learn_limit(limit, interval)
  local share = cfg.ceiling_share
  if interval > 1 then share = cfg.long_ceiling_share end
  st.ceil[fmt(interval)] = {limit / interval * share, now}
  local c = ceiling(now)
  if st.rate == nil or st.rate > c then
    set_rate(c)
    return true
  end
  return false
end

local function probe()
  local near = st.lrr ~= nil and st.rate >= cfg.near * st.lrr
  local step = cfg.fast_step
  if near then step = cfg.slow_step end
  local target = math.min(st.rate * (1 + step), math.max(st.rate, cfg.app_limit * sent_rate(now)))
  local c = ceiling(now)
  if c ~= nil then target = math.min(target, c) end
  if target > st.rate then set_rate(target) end
end

local function decide()
  local answers = st.acc + st.ref
  local share = st.ref / answers
  if st.rate == nil then
    if st.ref == 0 then return end
    local got = trim(KEYS[3], now) / span(now)
    local sent = sent_rate(now)
    st.lrr = sent
    set_rate(math.max(got, sent * cfg.max_cut))
  elseif st.ref >= cfg.min_refusals and share > cfg.target then
    local sent = math.min(st.rate, sent_rate(now))
    st.lrr = sent
    set_rate(sent * math.max(1 - cfg.max_cut, (1 - share) * (1 + cfg.target)))
  elseif now - st.epoch >= cfg.probe_every * SPAN and answers >= cfg.min_answers then
    probe()
  end
end

local function on_answer(granted, refused, limit, interval)
  if cfg.fixed then return end
  if not refused then
    trim(KEYS[3], now)
    redis.call('RPUSH', KEYS[3], fmt(now))
  end
  if refused and limit and limit > 0 and interval and interval > 0 then
    if learn_limit(limit, interval) then return end
  end
  if st.epoch and granted < st.epoch then return end
  if refused then st.ref = st.ref + 1 else st.acc = st.acc + 1 end
  if st.acc + st.ref > cfg.max_answers then
    st.acc, st.ref = st.acc / 2, st.ref / 2
  end
  decide()
end

local function report(granted, refused, limit, interval, retry_after)
  on_answer(granted, refused, limit, interval)
  if refused and limit and retry_after then
    local untl = now + retry_after * SPAN
    if st.gate == nil or untl > st.gate then
      st.gate = untl
      local rate = pace()
      if rate then
        -- no banked turns when the gate opens: the server's bucket is empty then
        st.tat = math.max(st.tat or untl, untl + tolerance(rate))
      end
    end
  end
end

-- reserve the next slot if it is at most cfg.horizon away: the caller sleeps until it
local function take()
  local allow = now
  if st.gate and st.gate > allow then allow = st.gate end
  local rate = pace()
  if rate and st.tat then allow = math.max(allow, st.tat - tolerance(rate)) end
  allow = math.ceil(allow)
  if allow - now > cfg.horizon * SPAN then return 'wait', allow - now, nil end
  if rate then st.tat = math.max(st.tat or allow, allow) + SPAN / rate end
  if not cfg.fixed then
    trim(KEYS[2], allow)
    redis.call('RPUSH', KEYS[2], fmt(allow))
    if st.first == nil then st.first = allow end
  end
  return 'go', allow - now, allow
end

local verdict, delay, slot = 'ok', 0, nil
if ARGV[1] == 'report' then
  report(tonumber(ARGV[4]), ARGV[5] == '429', tonumber(ARGV[6]), tonumber(ARGV[7]),
    tonumber(ARGV[8]))
else
  for granted in string.gmatch(ARGV[4], '[^,]+') do
    on_answer(tonumber(granted), false, nil, nil)
  end
  if ARGV[1] == 'take' then verdict, delay, slot = take() end
end

local fields = {tat = st.tat, gate = st.gate, rate = st.rate, epoch = st.epoch, acc = st.acc,
  ref = st.ref, lrr = st.lrr, first = st.first}
local put, gone = {}, st.dropped
for k, v in pairs(fields) do
  if v == nil then table.insert(gone, k) else table.insert(put, k); table.insert(put, fmt(v)) end
end
for interval, c in pairs(st.ceil) do
  table.insert(put, 'c:' .. interval)
  table.insert(put, fmt(c[1]) .. '|' .. fmt(c[2]))
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
redis.call('HSET', KEYS[1], unpack(put))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], cfg.ttl_ms) end
return {verdict, fmt(delay), fmt(slot), fmt(pace()), fmt(st.gate), fmt(now)}
