-- KEYS[1] meeting:<id>, KEYS[2] meetings, KEYS[3] voice_bridges, KEYS[4] meeting_claim:<id>,
-- KEYS[5] meeting_create_params:<id>; ARGV[1] id;
-- ARGV[2] claim token: when not '', delete only if that token holds the claim (else return -1, nothing changed).
local id = ARGV[1]
if ARGV[2] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[2] then
  return -1
end
local vb = redis.call('HGET', KEYS[1], 'voice_bridge')
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[4])
redis.call('DEL', KEYS[5])
redis.call('SREM', KEYS[2], id)
-- Free the number only if it is still ours.
if vb and vb ~= '' and redis.call('HGET', KEYS[3], vb) == id then
  redis.call('HDEL', KEYS[3], vb)
end
return existed
