-- KEYS[1] meeting:<id>, KEYS[2] meetings, KEYS[3] voice_bridges, KEYS[4] meeting_claim:<id>
-- ARGV[1] id, ARGV[2] server id, ARGV[3] moderator_pw, ARGV[4] tenant id ('' for none), ARGV[5] ttl seconds,
-- ARGV[6] claim token ('' for no claim), ARGV[7] claim milliseconds, ARGV[8..] voice bridge candidates in order.
local flat = redis.call('HGETALL', KEYS[1])
if #flat > 0 then
  local h = {}
  for i = 1, #flat, 2 do
    h[flat[i]] = flat[i + 1]
  end
  local theirs = h.tenant_id or ''
  if ARGV[4] ~= '' and theirs ~= '' and theirs ~= ARGV[4] then
    return cjson.encode({ r = 'tenant', m = h })
  end
  return cjson.encode({ r = 'existing', m = h })
end
local m = claim_new(
  { meeting = KEYS[1], meetings = KEYS[2], bridges = KEYS[3], claim = KEYS[4] },
  { id = ARGV[1], server_id = ARGV[2], moderator_pw = ARGV[3], tenant = ARGV[4], ttl = ARGV[5], token = ARGV[6],
    claim_ms = ARGV[7], first = 8 }
)
if not m then
  return cjson.encode({ r = 'nobridge' })
end
return cjson.encode({ r = 'created', m = m })
