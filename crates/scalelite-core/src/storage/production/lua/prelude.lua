-- Shared by the server scripts. Conventions of every server script:
--   KEYS[1] servers, KEYS[2] server_enabled, KEYS[3] server_load, KEYS[4] cordoned_server_load
--   ARGV[1] prefix of server:<id>, ARGV[2] prefix of the bare-id counters hash
-- Values are returned as JSON (cjson) with every number kept as the string Redis holds.

local SP, CP = ARGV[1], ARGV[2]

-- Everything needed to build a Server: its hash, index memberships, both scores and the counters.
local function read_server(id)
  local flat = redis.call('HGETALL', SP .. id)
  if #flat == 0 then
    return nil
  end
  local h = {}
  for i = 1, #flat, 2 do
    h[flat[i]] = flat[i + 1]
  end
  local s = { id = id, h = h }
  s.en = redis.call('SISMEMBER', KEYS[2], id)
  s.sl = redis.call('ZSCORE', KEYS[3], id) or nil
  s.cl = redis.call('ZSCORE', KEYS[4], id) or nil
  -- The counters live under the bare id; a name clash with another key type must not fail the read.
  local ck = CP .. id
  if redis.call('TYPE', ck).ok == 'hash' then
    s.hc = redis.call('HGET', ck, 'healthy_counter') or nil
    s.uc = redis.call('HGET', ck, 'unhealthy_counter') or nil
  end
  return s
end

-- A score string as a number, with Redis' spellings of infinity.
local function num(score)
  local n = tonumber(score)
  if n then
    return n
  end
  if score == '-inf' then
    return -math.huge
  end
  return math.huge
end
