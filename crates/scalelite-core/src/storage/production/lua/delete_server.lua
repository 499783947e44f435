-- ARGV[3] id. Removes the record, every index entry and the bare-id counters hash (only when it really is a
-- counters hash: the bare id could name another key of the layout).
local id = ARGV[3]
local key = SP .. id
local member = redis.call('SISMEMBER', KEYS[1], id)
if member == 0 and redis.call('EXISTS', key) == 0 then
  return 0
end
redis.call('DEL', key)
redis.call('SREM', KEYS[1], id)
redis.call('ZREM', KEYS[3], id)
redis.call('SREM', KEYS[2], id)
redis.call('ZREM', KEYS[4], id)
local ck = CP .. id
if redis.call('TYPE', ck).ok == 'hash' then
  local only_counters = true
  for _, f in ipairs(redis.call('HKEYS', ck)) do
    if f ~= 'healthy_counter' and f ~= 'unhealthy_counter' then
      only_counters = false
    end
  end
  if only_counters then
    redis.call('DEL', ck)
  end
end
return 1
