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

-- Everything needed to build a Server (server_from_raw): its hash, the counters when `counters` is true, and what
-- its state needs of the indexes: an enabled server's load (sl), a cordoned one's (cl), a disabled one's nothing; a
-- legacy record without a state is enabled when in server_enabled (en), with its load. The per-meeting calls
-- (meeting_with_server.lua) do without the counters: a Redis call each, and only the poller and the CLI show them.
local function read_server(id, counters)
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
  if counters then
    read_counters(s)
  end
  return s
end

-- The original's Server.find_available plus the load bump, atomically: the least loaded server (ties in
-- server_load's order) whose tag is one of the requested tags ARGV[first..last] ('none' names the untagged ones);
-- when there is none and the tags are not `required`, the least loaded untagged server (no tag requested: untagged
-- servers only). A server without a hash is passed over. The hashes are read in load order, each once, and only
-- until the answer is known: with no tag requested, usually the first is the one.
-- { r = 'ok', s = the server as placing needs it (s.forced its new load, s.lm the multiplier it was bumped by) },
-- { r = 'tag' } (required tags unavailable) or { r = 'none' }.
local function select_server(required, first, last)
  local zr = redis.call('ZRANGE', KEYS[3], 0, -1)
  if #zr == 0 then
    return { r = 'none' }
  end
  local wanted, tagged = {}, last >= first
  for j = first, last do
    wanted[ARGV[j]] = true
  end
  local chosen, untagged = nil, nil
  for i = 1, #zr do
    local h = server_hash(zr[i])
    if h then
      local tag = h.tag
      if tag == '' then
        tag = nil
      end
      if tagged and wanted[tag or 'none'] then
        chosen = { id = zr[i], h = h }
        break
      end
      if not tag and not untagged then
        untagged = { id = zr[i], h = h }
        if not tagged then
          break
        end
      end
    end
  end
  if not chosen then
    if required then
      return { r = 'tag' }
    end
    chosen = untagged
  end
  if not chosen then
    return { r = 'none' }
  end
  local lm = chosen.h.load_multiplier
  if not lm or not tonumber(lm) then
    lm = '1'
  end
  -- Its state is forced to enabled and its load to the new one (`forced`): no index is read. Only what placing a
  -- meeting on it needs comes back (no statistics, no counters: less for Redis' one thread to read and encode).
  local h = chosen.h
  local s = {
    id = chosen.id,
    h = { url = h.url, secret = h.secret, tag = h.tag, online = h.online, load_multiplier = h.load_multiplier },
    lm = lm,
  }
  s.forced = redis.call('ZINCRBY', KEYS[3], lm, chosen.id)
  return { r = 'ok', s = s }
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
