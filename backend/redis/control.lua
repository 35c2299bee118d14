-- control.lua changes a key's state from outside a request (Store.Block,
-- Store.Unblock, Store.Refund); Reset is a DEL.
--
-- KEYS[1]  the hash holding the policy's state (see keys.go, decide.lua)
-- ARGV[1]  "block", "unblock" or "refund"
-- ARGV[2]  block: how long it lasts, in microseconds; refund: the units given
--          back; unblock: unused
-- ARGV[3]  now in microseconds, or 0 to read the server's clock (TIME)
-- refund:
-- ARGV[4]  strategy: 0 sliding window, 1 fixed window, 2 token bucket
-- ARGV[5+] count and period (microseconds) of each limit, in pairs
--
-- A block is held in "e", as "<expiry>:<block's end>" (see decide.lua), and
-- moves the key's expiry to the block's end when it would come before; an
-- unblock leaves "e" the expiry alone. A refund gives back units of the windows still open,
-- never below zero, and moves a token bucket's arrival time back, never
-- before now; it writes only what changed, so that a key with nothing to
-- give back is left alone. Either write makes the server invalidate the
-- copies other clients cache, so their watches of a denial end at once.

local key = KEYS[1]
local now = tonumber(ARGV[3])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

if ARGV[1] ~= 'refund' then
  local e = redis.call('HGET', key, 'e')
  local expires = tonumber(e)
  if e and not expires then
    expires = tonumber(string.match(e, '^(%d+):'))
  end
  expires = expires or 0
  if ARGV[1] == 'unblock' then
    if e and not tonumber(e) then
      redis.call('HSET', key, 'e', string.format('%d', expires))
    end
    return 1
  end
  local ends = now + tonumber(ARGV[2])
  redis.call('HSET', key, 'e', string.format('%d:%d', math.max(ends, expires), ends))
  if ends > expires then
    redis.call('PEXPIRE', key, math.max(1, math.ceil((ends - now) / 1000)))
  end
  return 1
end

local cost = tonumber(ARGV[2])
local strategy = tonumber(ARGV[4])
local n = (#ARGV - 4) / 2
local set = {}
local function put(field, value)
  set[#set + 1] = field
  set[#set + 1] = value
end
for i = 1, n do
  local limit, period = tonumber(ARGV[3 + 2 * i]), tonumber(ARGV[4 + 2 * i])
  local s = redis.call('HMGET', key, 'a' .. i, 'c' .. i, 'p' .. i)
  local a, c, p = tonumber(s[1]), tonumber(s[2]) or 0, tonumber(s[3]) or 0
  if a == nil then
    -- nothing counted for this limit
  elseif strategy == 2 then
    if a > now then
      put('a' .. i, math.max(now, a - cost * math.floor(period / limit)))
    end
  elseif strategy == 1 then
    if c > 0 and now < a + period then
      put('c' .. i, math.max(0, c - cost))
    end
  else
    local idx = math.floor(now / period)
    if a < idx then
      -- Slide as decide.lua does; the current window is then empty.
      if a == idx - 1 then p = c else p = 0 end
      a, c = idx, 0
    end
    local from_c = math.min(c, cost)
    local from_p = math.min(p, cost - from_c)
    if from_c + from_p > 0 then
      put('a' .. i, a)
      put('c' .. i, c - from_c)
      put('p' .. i, p - from_p)
    end
  end
end
if #set > 0 then
  redis.call('HSET', key, unpack(set))
end
return #set / 2
