-- KEYS[1] tenant_setting:<id>, KEYS[2] tenant_settings:<tenant id>; ARGV[1] id, ARGV[2] tenant id.
local member = redis.call('SISMEMBER', KEYS[2], ARGV[1])
local owner = redis.call('HGET', KEYS[1], 'tenant_id')
if member == 0 and owner ~= ARGV[2] then
  return 0
end
if owner == false or owner == ARGV[2] then
  redis.call('DEL', KEYS[1])
end
redis.call('SREM', KEYS[2], ARGV[1])
return 1
