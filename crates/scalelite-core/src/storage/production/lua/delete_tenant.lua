-- KEYS[1] tenants, KEYS[2] tenant:<id>; ARGV[1] id, ARGV[2] prefix of tenant_name:<name>.
local id = ARGV[1]
local member = redis.call('SISMEMBER', KEYS[1], id)
local name = redis.call('HGET', KEYS[2], 'name')
if member == 0 and not name then
  return 0
end
if name then
  local nk = ARGV[2] .. name
  if redis.call('HGET', nk, 'id') == id then
    redis.call('DEL', nk)
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[1], id)
return 1
