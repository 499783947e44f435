-- Shared by the server scripts. Conventions of every server script:
--   KEYS[1] servers, KEYS[2] server_enabled, KEYS[3] server_load, KEYS[4] cordoned_server_load
--   ARGV[1] prefix of server:<id>, ARGV[2] prefix of the bare-id counters hash
-- Values are returned as JSON (cjson) with every number kept as the string Redis holds.

local SP, CP = ARGV[1], ARGV[2]

-- A server's hash as a table, or nil when there is none.
local function server_hash(id)
  local flat = redis.call('HGETALL', SP .. id)
  if #flat == 0 then
    return nil
  end
  local h = {}
  for i = 1, #flat, 2 do
    h[flat[i]] = flat[i + 1]
  end
  return h
end

-- The counters of server `s` into s.hc and s.uc. They live under the bare id; a name clash with another key type
-- must not fail the read (pcall: the error comes back as a table with `err`, and the counters read as none).
local function read_counters(s)
  local counters = redis.pcall('HMGET', CP .. s.id, 'healthy_counter', 'unhealthy_counter')
  if not counters.err then
    s.hc = counters[1] or nil
    s.uc = counters[2] or nil
  end
end

-- Everything needed to build a Server (server_from_raw): its hash, the counters, and what its state needs of the
-- indexes: an enabled server's load (sl), a cordoned one's (cl), a disabled one's nothing; a legacy record without
-- a state is enabled when in server_enabled (en), with its load.
local function read_server(id)
  local h = server_hash(id)
  if not h then
    return nil
  end
  local s = { id = id, h = h }
  local state = h.state
  if state == 'enabled' then
    s.sl = redis.call('ZSCORE', KEYS[3], id) or nil
  elseif state == 'cordoned' then
    s.cl = redis.call('ZSCORE', KEYS[4], id) or nil
  elseif state ~= 'disabled' then
    s.en = redis.call('SISMEMBER', KEYS[2], id)
    s.sl = redis.call('ZSCORE', KEYS[3], id) or nil
  end
  read_counters(s)
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

-- The original's Server.find_available plus the load bump, atomically: the tags must match when `required`; the
-- requested tags are ARGV[first..last] (none: untagged servers only). { r = 'ok', s = the server (s.forced its new
-- load, s.lm the multiplier it was bumped by) }, { r = 'tag' } (required tags unavailable) or { r = 'none' }.
local function select_server(required, first, last)
  local zr = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  if #zr == 0 then
    return { r = 'none' }
  end
  local entries = {}
  for i = 1, #zr, 2 do
    local tag = redis.call('HGET', SP .. zr[i], 'tag')
    if tag == '' then
      tag = false
    end
    entries[#entries + 1] = { id = zr[i], score = zr[i + 1], tag = tag, pos = #entries + 1 }
  end
  local candidates = {}
  if last >= first then
    for j = first, last do
      for _, e in ipairs(entries) do
        if (e.tag or 'none') == ARGV[j] then
          candidates[#candidates + 1] = e
        end
      end
    end
    table.sort(candidates, function(a, b)
      local sa, sb = num(a.score), num(b.score)
      if sa ~= sb then
        return sa < sb
      end
      return a.pos < b.pos
    end)
  end
  if #candidates == 0 then
    if required then
      return { r = 'tag' }
    end
    for _, e in ipairs(entries) do
      if not e.tag then
        candidates[#candidates + 1] = e
      end
    end
  end
  for _, e in ipairs(candidates) do
    local h = server_hash(e.id)
    if h then
      local lm = h.load_multiplier
      if not lm or not tonumber(lm) then
        lm = '1'
      end
      -- Its state is forced to enabled and its load to the new one (`forced`): no index is read.
      local s = { id = e.id, h = h, lm = lm }
      s.forced = redis.call('ZINCRBY', KEYS[3], lm, e.id)
      read_counters(s)
      return { r = 'ok', s = s }
    end
  end
  return { r = 'none' }
end

-- Server::derived_moderator_password (domain.rs) inside Redis, which must agree with it byte for byte: the first 8
-- bytes of SHA1(secret .. ':' .. hex SHA1(secret .. ':moderatorPW:' .. meeting id)), each modulo 62 into
-- A-Z, a-z, 0-9 (by arithmetic on the character codes: every Lua call here costs Redis' one thread).
local function derived_password(secret, meeting_id)
  local digest = redis.sha1hex(secret .. ':' .. redis.sha1hex(secret .. ':moderatorPW:' .. meeting_id))
  local hex = { string.byte(digest, 1, 16) }
  local codes = {}
  for i = 1, 8 do
    local hi, lo = hex[2 * i - 1], hex[2 * i]
    -- '0'-'9' are 48-57, 'a'-'f' 97-102.
    hi = hi < 58 and hi - 48 or hi - 87
    lo = lo < 58 and lo - 48 or lo - 87
    local k = (hi * 16 + lo) % 62
    codes[i] = k < 26 and 65 + k or (k < 52 and 71 + k or k - 4)
  end
  return string.char(unpack(codes))
end
