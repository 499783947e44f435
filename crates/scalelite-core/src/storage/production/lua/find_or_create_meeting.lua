-- KEYS[1] meeting:<id>, KEYS[2] meetings, KEYS[3] voice_bridges, KEYS[4] meeting_claim:<id>
-- ARGV[1] id, ARGV[2] server id, ARGV[3] moderator_pw, ARGV[4] tenant id ('' for none), ARGV[5] ttl seconds,
-- ARGV[6] claim token ('' for no claim), ARGV[7] claim milliseconds, ARGV[8..] voice bridge candidates in order.
local id = ARGV[1]
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
local bridge = nil
for i = 8, #ARGV do
  if redis.call('HSETNX', KEYS[3], ARGV[i], id) == 1 or redis.call('HGET', KEYS[3], ARGV[i]) == id then
    bridge = ARGV[i]
    break
  end
end
if not bridge then
  return cjson.encode({ r = 'nobridge' })
end
-- The hash does not exist (read above): one HSET writes what HSETNX field by field would.
redis.call('HSET', KEYS[1], 'server_id', ARGV[2], 'moderator_pw', ARGV[3], 'voice_bridge', bridge, 'tenant_id', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[2], id)
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[4], ARGV[6], 'PX', ARGV[7])
else
  redis.call('DEL', KEYS[4])
end
local m = { server_id = ARGV[2], moderator_pw = ARGV[3], voice_bridge = bridge, tenant_id = ARGV[4] }
return cjson.encode({ r = 'created', m = m })
