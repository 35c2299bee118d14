-- decide.lua makes one rate-limit decision for one (key, policy), atomically.
--
-- KEYS[1]  the hash holding the policy's state (see keys.go)
-- ARGV[1]  strategy: 0 sliding window, 1 fixed window, 2 token bucket
-- ARGV[2]  cost, in units; 0 asks without consuming
-- ARGV[3]  now in microseconds, or 0 to read the server's clock (TIME)
-- ARGV[4+] count and period (microseconds) of each limit, in pairs
--
-- Returns {allowed, retry_after, now, version, remaining_1, reset_1, ...}, times
-- in microseconds. The hash is written only when the request is admitted
-- with a cost above zero: a denial changes nothing, so copies of the hash
-- cached by other clients stay valid, and a denied request consumes nothing.
--
-- Fields: "v" counts writes; "e" is when the key expires (microseconds),
-- so that PEXPIRE is sent only when it must move; per limit i, "a<i>" (fixed: window start;
-- sliding: window index; token bucket: theoretical arrival time), "c<i>"
-- (units counted in the window) and "p<i>" (sliding: the previous window's
-- units). The semantics are the memory backend's, in microseconds.

local key = KEYS[1]
local strategy = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local n = (#ARGV - 3) / 2

local fields = {'v', 'e'}
for i = 1, n do
  fields[#fields + 1] = 'a' .. i
  fields[#fields + 1] = 'c' .. i
  fields[#fields + 1] = 'p' .. i
end
local stored = redis.call('HMGET', key, unpack(fields))
local version = tonumber(stored[1]) or 0
local expires = tonumber(stored[2]) or 0

local counts, periods, at, curr, prev = {}, {}, {}, {}, {}
for i = 1, n do
  counts[i] = tonumber(ARGV[2 + 2 * i])
  periods[i] = tonumber(ARGV[3 + 2 * i])
  at[i] = tonumber(stored[3 * i]) or 0
  curr[i] = tonumber(stored[3 * i + 1]) or 0
  prev[i] = tonumber(stored[3 * i + 2]) or 0
end

-- Sliding window ------------------------------------------------------------

local function estimate(p, c, period, elapsed)
  return p * (period - elapsed) / period + c
end

-- admits_after reports whether cost fits d microseconds from now, if nothing
-- is consumed in between.
local function admits_after(p, c, elapsed, period, limit, d)
  local e = elapsed + d
  if e >= 2 * period then
    return true
  elseif e >= period then
    p, c, e = c, 0, e - period
  end
  return estimate(p, c, period, e) + cost <= limit
end

local function sliding_wait(i, elapsed)
  local p, c, period, limit = prev[i], curr[i], periods[i], counts[i]
  if admits_after(p, c, elapsed, period, limit, 0) then
    return 0
  end
  local room = limit - cost
  local d = 0
  if c <= room and p > 0 then
    d = math.ceil(period - (room - c) * period / p) - elapsed
  elseif c > 0 then
    d = (period - elapsed) + math.ceil(period - room * period / c)
  end
  if d >= 1 and d <= 2 * period
      and admits_after(p, c, elapsed, period, limit, d)
      and not admits_after(p, c, elapsed, period, limit, d - 1) then
    return d
  end
  local lo, hi = 0, 2 * period - elapsed
  while hi - lo > 1 do
    local mid = lo + math.floor((hi - lo) / 2)
    if admits_after(p, c, elapsed, period, limit, mid) then
      hi = mid
    else
      lo = mid
    end
  end
  return hi
end

-- Decision ------------------------------------------------------------------

local elapsed = {}
if strategy == 0 then
  for i = 1, n do
    local period = periods[i]
    local idx = math.floor(now / period)
    if at[i] < idx then
      if at[i] == idx - 1 then prev[i] = curr[i] else prev[i] = 0 end
      at[i], curr[i] = idx, 0
    end
    elapsed[i] = math.max(0, now - at[i] * period)
  end
end

local function fixed_used(i)
  if curr[i] == 0 or now >= at[i] + periods[i] then
    return 0
  end
  return curr[i]
end

local function wait(i)
  local limit, period = counts[i], periods[i]
  if cost > limit then
    return period
  end
  if strategy == 1 then
    if fixed_used(i) + cost <= limit then return 0 end
    return at[i] + period - now
  elseif strategy == 2 then
    local t = math.floor(period / limit)
    return math.max(0, math.max(at[i], now) + cost * t - limit * t - now)
  end
  return sliding_wait(i, elapsed[i])
end

local retry = 0
if cost > 0 then
  for i = 1, n do
    retry = math.max(retry, wait(i))
  end
end
local allowed = retry == 0 and cost > 0

if allowed then
  for i = 1, n do
    if strategy == 1 then
      if fixed_used(i) == 0 then
        at[i], curr[i] = now, cost
      else
        curr[i] = curr[i] + cost
      end
    elseif strategy == 2 then
      at[i] = math.max(at[i], now) + cost * math.floor(periods[i] / counts[i])
    else
      curr[i] = curr[i] + cost
    end
  end
end

-- State ---------------------------------------------------------------------

-- int formats a number for a command argument: integers up to 2^53 are
-- exact in Lua, but its default conversion would write large ones with an
-- exponent.
local function int(x)
  return string.format('%.0f', x)
end

local reply = {0, retry, now, version}
if retry == 0 then reply[1] = 1 end
local expiry = 0
for i = 1, n do
  local limit, period = counts[i], periods[i]
  local remaining, reset, ends
  if strategy == 1 then
    local used = fixed_used(i)
    if used == 0 then
      remaining, reset, ends = limit, period, 0
    else
      ends = at[i] + period
      remaining, reset = limit - used, ends - now
    end
  elseif strategy == 2 then
    local t = math.floor(period / limit)
    local tat = math.max(at[i], now)
    remaining = math.min(math.max(math.floor((now + limit * t - tat) / t), 0), limit)
    reset, ends = tat - now, at[i]
  else
    remaining = math.max(0, math.floor(limit - estimate(prev[i], curr[i], period, elapsed[i])))
    reset, ends = period - elapsed[i], 0
    if curr[i] > 0 then
      ends = (at[i] + 2) * period
    elseif prev[i] > 0 then
      ends = (at[i] + 1) * period
    end
  end
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset
  expiry = math.max(expiry, ends)
end

if allowed then
  version = version + 1
  reply[4] = version
  local set = {'v', int(version)}
  for i = 1, n do
    set[#set + 1] = 'a' .. i
    set[#set + 1] = int(at[i])
    set[#set + 1] = 'c' .. i
    set[#set + 1] = int(curr[i])
    if strategy == 0 then
      set[#set + 1] = 'p' .. i
      set[#set + 1] = int(prev[i])
    end
  end
  if expiry > expires then
    -- A token bucket's expiry moves on with every admission: set it a
    -- longest period further, so that PEXPIRE is sent about once a period.
    if strategy == 2 then
      for i = 1, n do expiry = math.max(expiry, at[i] + periods[i]) end
    end
    set[#set + 1] = 'e'
    set[#set + 1] = int(expiry)
    redis.call('HSET', key, unpack(set))
    redis.call('PEXPIRE', key, int(math.max(1, math.ceil((expiry - now) / 1000))))
  else
    redis.call('HSET', key, unpack(set))
  end
end
return reply
