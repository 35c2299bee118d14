-- decide.lua makes one rate-limit decision for one (key, policy), atomically.
--
-- KEYS[1]  the hash holding the policy's state (see keys.go)
-- ARGV[1]  strategy: 0 sliding window, 1 fixed window, 2 token bucket
-- ARGV[2]  cost, in units; 0 asks without consuming
-- ARGV[3]  now in microseconds, or 0 to read the server's clock (TIME)
-- ARGV[4+] count and period (microseconds) of each limit, in pairs, and, if
--          the policy has a penalty, last, the penalty in microseconds: a
--          denial blocks the key that long
--
-- Returns {allowed, retry_after, now, version, remaining_1, reset_1, ...}, times
-- in microseconds; a denial by sliding windows adds, after the states, the
-- previous and current window's units of each limit, {p_1, c_1, ...}, from
-- which a client watching the denial follows how the counts slide. version
-- is the stored value of the field every admission changes, "c1" (a window's
-- count) or for a token bucket "a1": a client watching a denial reads it
-- through its cache, and its server-assisted cache drops the copy when the
-- hash changes. For a blocked key, version is minus the block's end, which
-- a watcher reads in "e" (below). The hash is written only when the request
-- is admitted with a cost above zero, or blocked by the penalty: a denial
-- changes nothing, so copies of the hash cached by other clients stay valid,
-- and a denied request consumes nothing.
--
-- Fields: "e" is when the key expires (microseconds), so that PEXPIRE is sent
-- only when it must move; while the key is blocked (Store.Block, or the
-- penalty), "e" is "<expiry>:<block's end>", which tonumber refuses: a
-- decision then pays nothing to learn that the key is not blocked, where a
-- field of its own cost the server about 7% of a decision. Per limit i, "a<i>" (fixed: window start; sliding:
-- window index; token bucket: theoretical arrival time), "c<i>" (units
-- counted in the window) and "p<i>" (sliding: the previous window's units).
-- The semantics are the memory backend's, in microseconds.
--
-- The script runs on every admitted request, so it is written for the
-- server's CPU: a policy of one limit is decided with locals alone, no
-- function is built on the way to an admission but sliding_wait, and only
-- the fields that changed are written, each combination of them by an
-- HSET of its own rather than through a table and unpack (which cost the
-- server about 6% of a decision). Numbers go to redis.call as numbers: the
-- server writes them exactly (integers below 2^53).

local key = KEYS[1]
local strategy = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n, penalty = (#ARGV - 3) / 2, 0
if n % 1 ~= 0 then
  n, penalty = n - 0.5, tonumber(ARGV[#ARGV])
end

local stored
if n == 1 then
  -- Only the fields the strategy uses: each costs the server to read.
  if strategy == 2 then
    stored = redis.call('HMGET', key, 'e', 'a1')
  elseif strategy == 1 then
    stored = redis.call('HMGET', key, 'e', 'a1', 'c1')
  else
    stored = redis.call('HMGET', key, 'e', 'a1', 'c1', 'p1')
  end
else
  local fields = {'e'}
  for i = 1, n do
    fields[3 * i - 1], fields[3 * i], fields[3 * i + 1] = 'a' .. i, 'c' .. i, 'p' .. i
  end
  stored = redis.call('HMGET', key, unpack(fields))
end
-- The version a watcher compares: the first limit's field that every
-- admission changes, a token bucket's arrival time or a window's count.
local version = 0
if strategy == 2 then
  version = tonumber(stored[2]) or 0
else
  version = tonumber(stored[3]) or 0
end
local expires, blocked = tonumber(stored[1]), 0
if not expires then
  expires = 0
  if stored[1] then
    local e, b = string.match(stored[1], '^(%d+):(%d+)$')
    expires, blocked = tonumber(e) or 0, tonumber(b) or 0
  end
end
if blocked > now then
  cost = 0 -- denied whatever the counts: nothing is consumed or written
else
  blocked = 0
end

-- sliding_wait returns how long until a sliding window admits cost, for a
-- request it denies now.
local function sliding_wait(p, c, elapsed, period, limit)
  local function admits_after(d)
    local pp, cc, e = p, c, elapsed + d
    if e >= 2 * period then
      return true
    elseif e >= period then
      pp, cc, e = c, 0, e - period
    end
    return pp * (period - e) / period + cc + cost <= limit
  end
  local room = limit - cost
  local d = 0
  if c <= room and p > 0 then
    d = math.ceil(period - (room - c) * period / p) - elapsed
  elseif c > 0 then
    d = (period - elapsed) + math.ceil(period - room * period / c)
  end
  if d >= 1 and d <= 2 * period and admits_after(d) and not admits_after(d - 1) then
    return d
  end
  local lo, hi = 0, 2 * period - elapsed
  while hi - lo > 1 do
    local mid = lo + math.floor((hi - lo) / 2)
    if admits_after(mid) then
      hi = mid
    else
      lo = mid
    end
  end
  return hi
end

-- One limit ---------------------------------------------------------------------

-- A policy of one limit, as most are, is decided with locals alone: the same
-- arithmetic as the general path below, which keeps a table per kind of
-- value, without its tables, which cost the server more than the rest. The
-- steps are written out in both paths rather than shared as functions: the
-- server would build those functions on every call, about 1 us of the 8 a
-- decision costs it (measured with seven shared functions).
if n == 1 then
  local limit, period = tonumber(ARGV[4]), tonumber(ARGV[5])
  local a = tonumber(stored[2]) or 0
  local c = tonumber(stored[3]) or 0
  local p = tonumber(stored[4]) or 0
  local moved, retry, elapsed = false, 0, 0
  if strategy == 0 then
    local idx = math.floor(now / period)
    if a < idx then
      if a == idx - 1 then p = c else p = 0 end
      a, c, moved = idx, 0, true
    end
    elapsed = math.max(0, now - a * period)
  elseif strategy == 1 and (c == 0 or now >= a + period) then
    c = 0
  end
  if cost > limit then
    retry = period
  elseif cost > 0 then
    if strategy == 1 then
      if c + cost > limit then retry = a + period - now end
    elseif strategy == 2 then
      local t = math.floor(period / limit)
      retry = math.max(0, math.max(a, now) + cost * t - limit * t - now)
    elseif p * (period - elapsed) / period + c + cost > limit then
      retry = sliding_wait(p, c, elapsed, period, limit)
    end
  end
  local allowed = retry == 0 and cost > 0
  if allowed then
    if strategy == 1 then
      if c == 0 then a, moved = now, true end
      c = c + cost
    elseif strategy == 2 then
      a, moved = math.max(a, now) + cost * math.floor(period / limit), true
    else
      c = c + cost
    end
  end

  local remaining, reset, ends
  if strategy == 1 then
    if c == 0 then
      remaining, reset, ends = limit, period, 0
    else
      ends = a + period
      remaining, reset = limit - c, ends - now
    end
  elseif strategy == 2 then
    local t = math.floor(period / limit)
    local tat = math.max(a, now)
    remaining = math.min(math.max(math.floor((now + limit * t - tat) / t), 0), limit)
    reset, ends = tat - now, a
  else
    remaining = math.max(0, math.floor(limit - (p * (period - elapsed) / period + c)))
    reset, ends = period - elapsed, 0
    if c > 0 then
      ends = (a + 2) * period
    elseif p > 0 then
      ends = (a + 1) * period
    end
  end

  if allowed then
    local move = ends > expires
    if strategy == 2 then
      if move then
        ends = math.max(ends, a + period)
        redis.call('HSET', key, 'a1', a, 'e', ends)
      else
        redis.call('HSET', key, 'a1', a)
      end
    elseif moved then
      if strategy == 0 then
        if move then
          redis.call('HSET', key, 'a1', a, 'p1', p, 'c1', c, 'e', ends)
        else
          redis.call('HSET', key, 'a1', a, 'p1', p, 'c1', c)
        end
      elseif move then
        redis.call('HSET', key, 'a1', a, 'c1', c, 'e', ends)
      else
        redis.call('HSET', key, 'a1', a, 'c1', c)
      end
    elseif move then
      redis.call('HSET', key, 'c1', c, 'e', ends)
    else
      redis.call('HSET', key, 'c1', c)
    end
    if move then
      redis.call('PEXPIRE', key, math.max(1, math.ceil((ends - now) / 1000)))
    end
  end
  if blocked > 0 then
    retry, version = math.max(retry, blocked - now), -blocked
  elseif retry > 0 and penalty > 0 then
    -- The decision and its block are one atomic call.
    blocked = now + penalty
    local keep = math.max(ends, expires, blocked)
    redis.call('HSET', key, 'e', string.format('%d:%d', keep, blocked))
    if keep > expires then
      redis.call('PEXPIRE', key, math.ceil((keep - now) / 1000))
    end
    retry, version = math.max(retry, penalty), -blocked
  end
  if retry == 0 then
    return {1, 0, now, version, remaining, reset}
  elseif strategy == 0 then
    return {0, retry, now, version, remaining, reset, p, c}
  end
  return {0, retry, now, version, remaining, reset}
end

-- Any number of limits --------------------------------------------------------

-- Per limit: count, period, and the state a, c, p. moved[i] is true when a
-- (and for a sliding window p) changed and must be written.
local counts, periods, at, curr, prev, moved = {}, {}, {}, {}, {}, {}
for i = 1, n do
  local period = tonumber(ARGV[3 + 2 * i])
  local a = tonumber(stored[3 * i - 1]) or 0
  local c = tonumber(stored[3 * i]) or 0
  local p = tonumber(stored[3 * i + 1]) or 0
  if strategy == 0 then
    -- Slide to the window holding now; a > idx means the clock went back,
    -- and the counts are kept.
    local idx = math.floor(now / period)
    if a < idx then
      if a == idx - 1 then p = c else p = 0 end
      a, c = idx, 0
      moved[i] = true
    end
  elseif strategy == 1 and (c == 0 or now >= a + period) then
    c = 0 -- the window is over: nothing is used
  end
  counts[i], periods[i], at[i], curr[i], prev[i] = tonumber(ARGV[2 + 2 * i]), period, a, c, p
end

-- Decision ------------------------------------------------------------------

local retry = 0
if cost > 0 then
  for i = 1, n do
    local limit, period, a, c = counts[i], periods[i], at[i], curr[i]
    local wait = 0
    if cost > limit then
      wait = period
    elseif strategy == 1 then
      if c + cost > limit then wait = a + period - now end
    elseif strategy == 2 then
      local t = math.floor(period / limit)
      wait = math.max(0, math.max(a, now) + cost * t - limit * t - now)
    else
      local p, elapsed = prev[i], math.max(0, now - a * period)
      if p * (period - elapsed) / period + c + cost > limit then
        wait = sliding_wait(p, c, elapsed, period, limit)
      end
    end
    if wait > retry then retry = wait end
  end
end
local allowed = retry == 0 and cost > 0

if allowed then
  for i = 1, n do
    if strategy == 1 then
      if curr[i] == 0 then
        at[i], moved[i] = now, true
      end
      curr[i] = curr[i] + cost
    elseif strategy == 2 then
      at[i] = math.max(at[i], now) + cost * math.floor(periods[i] / counts[i])
    else
      curr[i] = curr[i] + cost
    end
  end
end

-- State ---------------------------------------------------------------------

if blocked > 0 then
  retry, version = math.max(retry, blocked - now), -blocked
end
local reply = {0, retry, now, version}
if retry == 0 then reply[1] = 1 end
local expiry = 0
for i = 1, n do
  local limit, period, a, c = counts[i], periods[i], at[i], curr[i]
  local remaining, reset, ends
  if strategy == 1 then
    if c == 0 then
      remaining, reset, ends = limit, period, 0
    else
      ends = a + period
      remaining, reset = limit - c, ends - now
    end
  elseif strategy == 2 then
    local t = math.floor(period / limit)
    local tat = math.max(a, now)
    remaining = math.min(math.max(math.floor((now + limit * t - tat) / t), 0), limit)
    reset, ends = tat - now, a
  else
    local p = prev[i]
    local elapsed = math.max(0, now - a * period)
    remaining = math.max(0, math.floor(limit - (p * (period - elapsed) / period + c)))
    reset, ends = period - elapsed, 0
    if c > 0 then
      ends = (a + 2) * period
    elseif p > 0 then
      ends = (a + 1) * period
    end
  end
  reply[3 + 2 * i], reply[4 + 2 * i] = remaining, reset
  if ends > expiry then expiry = ends end
end
if retry > 0 and blocked == 0 and penalty > 0 then
  blocked = now + penalty
  local keep = math.max(expiry, expires, blocked)
  redis.call('HSET', key, 'e', string.format('%d:%d', keep, blocked))
  if keep > expires then
    redis.call('PEXPIRE', key, math.ceil((keep - now) / 1000))
  end
  reply[2], reply[4] = math.max(retry, penalty), -blocked
end
if retry > 0 and strategy == 0 then
  for i = 1, n do
    reply[3 + 2 * n + 2 * i], reply[4 + 2 * n + 2 * i] = prev[i], curr[i]
  end
end

if allowed then
  local set = {}
  for i = 1, n do
    if strategy == 2 then
      set[#set + 1] = 'a' .. i
      set[#set + 1] = at[i]
    else
      if moved[i] then
        set[#set + 1] = 'a' .. i
        set[#set + 1] = at[i]
        if strategy == 0 then
          set[#set + 1] = 'p' .. i
          set[#set + 1] = prev[i]
        end
      end
      set[#set + 1] = 'c' .. i
      set[#set + 1] = curr[i]
    end
  end
  if expiry > expires then
    -- A token bucket's expiry moves on with every admission: set it a
    -- longest period further, so that PEXPIRE is sent about once a period.
    if strategy == 2 then
      for i = 1, n do expiry = math.max(expiry, at[i] + periods[i]) end
    end
    set[#set + 1] = 'e'
    set[#set + 1] = expiry
    redis.call('HSET', key, unpack(set))
    redis.call('PEXPIRE', key, string.format('%d', math.max(1, math.ceil((expiry - now) / 1000))))
  else
    redis.call('HSET', key, unpack(set))
  end
end
return reply
