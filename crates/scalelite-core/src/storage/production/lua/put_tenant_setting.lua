-- KEYS[1] tenant_setting:<id>, KEYS[2] tenant_settings:<tenant id>
-- ARGV[1] id, ARGV[2] tenant id, ARGV[3] param, ARGV[4] value, ARGV[5] override, ARGV[6] prefix of tenant_settings:
local old_tenant = redis.call('HGET', KEYS[1], 'tenant_id')
if old_tenant and old_tenant ~= ARGV[2] then
  redis.call('SREM', ARGV[6] .. old_tenant, ARGV[1])
end
redis.call('HSET', KEYS[1], 'param', ARGV[3], 'value', ARGV[4], 'override', ARGV[5], 'tenant_id', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
