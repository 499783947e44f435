-- Writes a new meeting's record and takes its claim (the meeting's hash is known not to exist). `k` holds the keys:
-- meeting (meeting:<id>), meetings, bridges (voice_bridges), claim (meeting_claim:<id>); `a` the values: id,
-- server_id, moderator_pw, tenant ('' for none), ttl (seconds), token ('' for no claim), claim_ms, and the voice
-- bridge candidates in order as ARGV[a.first..]. The first candidate free (or already this meeting's) is taken.
-- Returns the record written, or nil when no candidate is free (nothing written).
local function claim_new(k, a)
  local bridge = nil
  for i = a.first, #ARGV do
    if redis.call('HSETNX', k.bridges, ARGV[i], a.id) == 1 or redis.call('HGET', k.bridges, ARGV[i]) == a.id then
      bridge = ARGV[i]
      break
    end
  end
  if not bridge then
    return nil
  end
  -- The hash does not exist: one HSET writes what HSETNX field by field would.
  redis.call('HSET', k.meeting, 'server_id', a.server_id, 'moderator_pw', a.moderator_pw, 'voice_bridge', bridge,
    'tenant_id', a.tenant)
  redis.call('EXPIRE', k.meeting, a.ttl)
  redis.call('SADD', k.meetings, a.id)
  if a.token ~= '' then
    redis.call('SET', k.claim, a.token, 'PX', a.claim_ms)
  else
    redis.call('DEL', k.claim)
  end
  return { server_id = a.server_id, moderator_pw = a.moderator_pw, voice_bridge = bridge, tenant_id = a.tenant }
end
