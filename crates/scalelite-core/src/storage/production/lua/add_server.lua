-- ARGV[3] id, ARGV[4] state, then field/value pairs for the hash.
local id, state = ARGV[3], ARGV[4]
if redis.call('SISMEMBER', KEYS[1], id) == 1 then
  return cjson.encode({ r = 'exists' })
end
local key = SP .. id
-- A hash left without a servers entry is a remnant; the new record starts clean.
redis.call('DEL', key)
for i = 5, #ARGV, 2 do
  redis.call('HSET', key, ARGV[i], ARGV[i + 1])
end
redis.call('HSET', key, 'state', state)
redis.call('SADD', KEYS[1], id)
if state == 'enabled' then
  redis.call('SADD', KEYS[2], id)
else
  redis.call('SREM', KEYS[2], id)
end
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
return cjson.encode({ r = 'ok', s = read_server(id, true) })
