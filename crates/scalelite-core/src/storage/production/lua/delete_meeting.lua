-- KEYS[1] meeting:<id>, KEYS[2] meetings, KEYS[3] voice_bridges; ARGV[1] id.
local id = ARGV[1]
local vb = redis.call('HGET', KEYS[1], 'voice_bridge')
local existed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], id)
-- Free the number only if it is still ours.
if vb and vb ~= '' and redis.call('HGET', KEYS[3], vb) == id then
  redis.call('HDEL', KEYS[3], vb)
end
return existed
