-- A meeting's record, its live claim and its server, in one round trip (server script conventions, plus
-- KEYS[5] the meeting's hash and KEYS[6] its claim). `s` is left out when its server record is gone. For a create,
-- KEYS[7] is the meeting's callback URL mark (callback_urls:<id>), KEYS[8] callback_urls_indexed and ARGV[3] the
-- tenant id (empty: none): the mark's `gen:` and `clean:` fields come back as `g` and `cl`, and, when there is no
-- `gen:`, `ix` is 1 when the callback data is indexed, whether the meeting exists or not.
-- A create may also place a meeting that does not exist, as place_meeting would: with KEYS[9] meetings and KEYS[10]
-- voice_bridges, ARGV[4] '1' when the tags are required ('0' when not), ARGV[5] how many tags follow, then the
-- tags, then the claim token, the claim's milliseconds, the record's TTL in seconds, the moderator password (empty:
-- the picked server's derived one), the meeting id, the record's tenant id (empty: none) and the voice bridge
-- candidates. A server is picked as select_server.lua picks
-- (its load bumped) and comes back as `p`; the record claimed on it comes back as `n`, or `n` is false when no
-- voice bridge candidate was free (the bump given back).
local out = {}
if KEYS[7] then
  local mark = redis.call('HMGET', KEYS[7], 'gen:' .. ARGV[3], 'clean:' .. ARGV[3])
  if mark[1] then
    out.g = mark[1]
  end
  if mark[2] then
    out.cl = mark[2]
  end
  -- The index matters only to a mark without a generation (mark_of).
  if not mark[1] then
    out.ix = redis.call('EXISTS', KEYS[8])
  end
end
local flat = redis.call('HGETALL', KEYS[5])
if #flat == 0 then
  if KEYS[10] then
    local tags = tonumber(ARGV[5])
    local picked = select_server(ARGV[4] == '1', 6, 5 + tags)
    out.p = picked
    if picked.r == 'ok' then
      local f = 6 + tags
      local server, id = picked.s, ARGV[f + 4]
      local password = ARGV[f + 3]
      if password == '' then
        password = derived_password(server.h.secret or '', id)
      end
      out.n = claim_new(
        { meeting = KEYS[5], meetings = KEYS[9], bridges = KEYS[10], claim = KEYS[6] },
        { id = id, server_id = server.id, moderator_pw = password, tenant = ARGV[f + 5], ttl = ARGV[f + 2],
          token = ARGV[f], claim_ms = ARGV[f + 1], first = f + 6 }
      ) or false
      if not out.n then
        server.forced = redis.call('ZINCRBY', KEYS[3], -tonumber(server.lm), server.id)
      end
    end
  end
  return cjson.encode(out)
end
local m = {}
for i = 1, #flat, 2 do
  m[flat[i]] = flat[i + 1]
end
out.m = m
local claim = redis.call('GET', KEYS[6])
if claim then
  out.c = claim
end
if m.server_id then
  out.s = read_server(m.server_id, false)
end
return cjson.encode(out)
