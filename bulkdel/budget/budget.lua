-- An account's budget in Redis: a GCRA pacer, the gate a stated 429 closes, and the adaptive
-- pace controller (a port of bulkdel/budget/controller.py and pace.py), on the server's clock.
--
-- KEYS: 1 state (hash), 2 grant times of the last second (list), 3 answer times (list).
-- ARGV: 1 mode ('take' | 'count' | 'report'), 2 now in us since cfg.epoch ('' = TIME; tests only),
--       3 cfg (JSON: constants, fixed rate, horizon, ttl), then
--       take, count: 4 granted-at (us) of successes not reported yet, comma-separated ('' none;
--               negative: an answer that is no rate signal, a 5xx or a lost connection, which
--               only leaves the slow start's window); 'count' only counts them, 'take' then
--               reserves a slot
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
  lrr = tonumber(h.lrr), first = tonumber(h.first), ceil = {}, quota = {}, dropped = {},
  starting = tonumber(h.starting), esends = tonumber(h.esends) or 0,
  srtt = tonumber(h.srtt), win = tonumber(h.win) or 1, rrate = tonumber(h.rrate) or cfg.start_rate,
  flight = {}, clean = tonumber(h.clean) or 0, rsent = tonumber(h.rsent) or 0,
}
-- the slow start's turns in flight: their grant times, oldest first
for part in string.gmatch(h.flight or '', '[^,]+') do table.insert(st.flight, tonumber(part)) end
-- a new account's state begins in the slow start (a fixed pace never does)
if st.starting == nil then
  if cfg.fixed or not cfg.slow_start or st.rate or st.epoch then
    st.starting = 0
  else
    st.starting, st.rate = 1, cfg.start_rate
  end
end
-- c:<interval> = 'ceiling|stated at'; q:<interval> = 'quota|window end|turns in it'
for k, v in pairs(h) do
  local kind, interval = string.sub(k, 1, 2), string.sub(k, 3)
  if kind == 'c:' or kind == 'q:' then
    local parts = {}
    for part in string.gmatch(v, '[^|]+') do table.insert(parts, tonumber(part)) end
    if kind == 'c:' then st.ceil[interval] = parts else st.quota[interval] = parts end
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
  st.rrate = st.rate
  st.epoch = now
  st.acc, st.ref, st.esends = 0, 0, 0
  st.rsent = 0
end

local function learn_limit(limit, interval)
  st.ceil[fmt(interval)] = {limit / interval * cfg.ceiling_share, now}
  local c = ceiling(now)
  if st.rate == nil or st.rate > c or st.starting == 1 then
    st.starting = 0
    st.flight = {}
    set_rate(c)
    return true
  end
  return false
end

local function probe()
  local near = st.lrr ~= nil and st.rate >= cfg.near * st.lrr and st.rate <= st.lrr / cfg.near
  local step = cfg.fast_step
  if near then step = cfg.slow_step end
  -- from the second probe in a row without a refusal, each doubles the step
  step = math.min(step * cfg.clean_growth ^ math.max(0, st.clean - 1), cfg.max_step)
  local target = math.min(st.rate * (1 + step), math.max(st.rate, cfg.app_limit * sent_rate(now)))
  local c = ceiling(now)
  if c ~= nil then target = math.min(target, c) end
  if target > st.rate then set_rate(target) end
end

local function first_pace()
  local got = trim(KEYS[3], now) / span(now)
  local sent = sent_rate(now)
  st.lrr = sent
  set_rate(math.max(got, sent / 2))
end

-- the slow start: its window of turns in flight per (smoothed) round trip
local function window_pace() return math.max(cfg.start_rate, st.win * SPAN / st.srtt) end

local function sample(granted)
  local rtt = math.max(now - granted, 1)
  if st.srtt == nil then st.srtt = rtt else st.srtt = st.srtt + cfg.rtt_gain * (rtt - st.srtt) end
end

-- seconds (us) until the window has room: 0 when it has, or outside the slow start
local function flight_wait(at)
  if st.starting ~= 1 or st.srtt == nil or #st.flight < st.win then return 0 end
  while #st.flight > 0 and st.flight[1] <= at - cfg.flight_timeout * SPAN do
    table.remove(st.flight, 1)
  end
  if #st.flight < st.win then return 0 end
  return st.flight[1] + cfg.flight_timeout * SPAN - at
end

-- any answer to a turn granted at ``granted``: it leaves the window
local function answered(granted)
  if #st.flight == 0 then return end
  for i, f in ipairs(st.flight) do
    if f == granted then table.remove(st.flight, i); break end
  end
  if st.starting ~= 1 then st.flight = {} end
end

-- a refusal ends the slow start; a round of answers doubles the window, or ends the slow
-- start unpaced when the jobs did not use most of it (their concurrency holds them back)
local function start()
  if st.ref > 0 then
    st.starting = 0
    st.flight = {}
    first_pace()
    return
  end
  if st.epoch == nil then
    set_rate(window_pace())
    return
  end
  if st.acc < math.max(st.win, cfg.start_answers / st.win) then return end
  local span = math.max(now - st.epoch, 1) / SPAN
  local held = math.min(st.rate, st.rrate, st.win * SPAN / st.srtt)
  if st.esends / span >= held * cfg.start_binding then
    st.win = st.win * cfg.start_growth
    set_rate(window_pace())
    return
  end
  st.starting = 0
  st.flight = {}
  set_rate(st.rate)
  st.rate = nil
end

local function decide()
  local answers = st.acc + st.ref
  local share = st.ref / answers
  if st.starting == 1 then
    start()
  elseif st.rate == nil then
    if st.ref == 0 then return end
    first_pace()
  elseif answers >= cfg.min_answers and st.ref >= cfg.min_refusals and share > cfg.target then
    -- what was sent when the refusals came, not since (the refused may sleep together)
    local sent = math.min(st.rate, math.max(sent_rate(now), st.rsent))
    st.lrr = sent
    st.clean = 0
    set_rate(sent * math.max(1 - cfg.max_cut, (1 - share) * (1 + cfg.target)))
  else
    local every = cfg.probe_every
    if st.clean > 0 and st.ref == 0 then every = cfg.clean_every end
    if answers >= cfg.min_answers and now - st.epoch >= every * SPAN then
      if st.ref == 0 then st.clean = math.min(st.clean + 1, cfg.max_clean) else st.clean = 0 end
      probe()
    end
  end
end

local function on_answer(granted, refused, limit, interval)
  if cfg.fixed then return end
  -- a spent long window: the quota's business, not the pace's
  if refused and interval and interval > cfg.long_window then return end
  if not refused then
    trim(KEYS[3], now)
    redis.call('RPUSH', KEYS[3], fmt(now))
  end
  if refused and limit and limit > 0 and interval and interval > 0 then
    if learn_limit(limit, interval) then return end
  end
  if st.starting == 1 and (refused or st.srtt == nil) then
    -- the first answer sets the pace in round trips; the first 429 ends the slow start,
    -- whichever round its turn was granted in
    sample(granted)
    if refused then st.ref = st.ref + 1 end
    start()
    return
  end
  if st.starting == 1 then
    -- the pace follows the round trip within a round (no new epoch)
    sample(granted)
    st.rate = window_pace()
  end
  -- granted at an older pace (or as it changed): says nothing about this one
  if st.epoch and granted <= st.epoch then return end
  if refused then
    st.ref = st.ref + 1
    st.rsent = math.max(st.rsent, sent_rate(now))
  else
    st.acc = st.acc + 1
  end
  if st.acc + st.ref > cfg.max_answers then
    st.acc, st.ref = st.acc / 2, st.ref / 2
  end
  decide()
end

local function report(granted, refused, limit, interval, retry_after)
  answered(granted)
  if not (refused and limit and retry_after) then
    on_answer(granted, refused, limit, interval)
    return
  end
  local untl = now + retry_after * SPAN
  if (interval or 0) > cfg.long_window then
    -- a long window is spent as a quota counted from its stated reset, not paced
    local quota = math.max(1, math.floor(limit * cfg.quota_share))
    st.quota[fmt(interval)] = {quota, untl, quota}  -- the 429 said this window is spent
  else
    on_answer(granted, refused, limit, interval)
  end
  if st.gate == nil or untl > st.gate then
    st.gate = untl
    local rate = pace()
    if rate then
      -- no banked turns when the gate opens: the server's bucket is empty then
      st.tat = math.max(st.tat or untl, untl + tolerance(rate))
    end
  end
end

-- the first time from t on at which every long window has a turn left, and the windows as
-- they are then (a copy: kept only if a turn is reserved at that time)
local function quotas_at(t)
  local windows, moved = {}, true
  for interval, q in pairs(st.quota) do windows[interval] = {q[1], q[2], q[3]} end
  while moved do
    moved = false
    for interval, q in pairs(windows) do
      local length = tonumber(interval) * SPAN
      if t >= q[2] then
        q[2] = q[2] + length * (1 + math.floor((t - q[2]) / length))
        q[3] = 0
      end
      if q[3] >= q[1] then t, moved = q[2], true end
    end
  end
  return t, windows
end

-- reserve the next slot if it is at most cfg.horizon away: the caller sleeps until it
local function take()
  local allow = now
  if st.gate and st.gate > allow then allow = st.gate end
  local rate = pace()
  if rate and st.tat then allow = math.max(allow, st.tat - tolerance(rate)) end
  if rate then
    local full = flight_wait(now)
    -- a full window waits for an answer, not for a time: never reserve past it
    if full > 0 then return 'wait', math.min(full, st.srtt), nil end
  end
  local windows
  allow, windows = quotas_at(math.ceil(allow))
  if allow - now > cfg.horizon * SPAN then return 'wait', allow - now, nil end
  if rate then st.tat = math.max(st.tat or allow, allow) + SPAN / rate end
  for _, q in pairs(windows) do q[3] = q[3] + 1 end
  st.quota = windows
  if not cfg.fixed then
    if st.epoch == nil or allow > st.epoch then st.esends = st.esends + 1 end
    if st.starting == 1 then table.insert(st.flight, allow) end
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
    local g = tonumber(granted)
    if g < 0 then
      answered(-g)
    else
      answered(g)
      on_answer(g, false, nil, nil)
    end
  end
  if ARGV[1] == 'take' then verdict, delay, slot = take() end
end

-- by name, not pairs(): a field that became nil (the rate, when the slow start ends
-- unpaced) is no key of a table, and must be deleted
local put, gone = {}, st.dropped
if #st.flight > 0 then
  local parts = {}
  for _, f in ipairs(st.flight) do table.insert(parts, fmt(f)) end
  st.flight = table.concat(parts, ',')
else
  st.flight = nil
end
for _, k in ipairs({'tat', 'gate', 'rate', 'epoch', 'acc', 'ref', 'lrr', 'first', 'starting',
    'esends', 'srtt', 'win', 'rrate', 'flight', 'clean', 'rsent'}) do
  local v = st[k]
  if type(v) == 'number' then v = fmt(v) end
  if v == nil then table.insert(gone, k) else table.insert(put, k); table.insert(put, v) end
end
for interval, c in pairs(st.ceil) do
  table.insert(put, 'c:' .. interval)
  table.insert(put, fmt(c[1]) .. '|' .. fmt(c[2]))
end
for interval, q in pairs(st.quota) do
  table.insert(put, 'q:' .. interval)
  table.insert(put, fmt(q[1]) .. '|' .. fmt(q[2]) .. '|' .. fmt(q[3]))
end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
redis.call('HSET', KEYS[1], unpack(put))
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], cfg.ttl_ms) end
return {verdict, fmt(delay), fmt(slot), fmt(pace()), fmt(st.gate), fmt(now)}
