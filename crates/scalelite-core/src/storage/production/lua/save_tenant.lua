-- KEYS[1] tenants, KEYS[2] tenant:<id>, KEYS[3] tenant_name:<new name>
-- ARGV[1] id, ARGV[2] 'add' or 'update', ARGV[3] prefix of tenant_name:<name>, ARGV[4] n = number of field/value
-- pairs that follow (written), then names of fields without a value: as the original writes a nil attribute, such a
-- field is set to '' when it exists and left absent otherwise.
local id, mode, n = ARGV[1], ARGV[2], tonumber(ARGV[4])
local exists = redis.call('SISMEMBER', KEYS[1], id) == 1
if mode == 'add' and exists then
  return 'exists'
end
if mode == 'update' and not exists then
  return 'missing'
end
if mode == 'add' then
  -- A hash left without a tenants entry is a remnant; the new record starts clean.
  redis.call('DEL', KEYS[2])
end
local old_name = redis.call('HGET', KEYS[2], 'name')
local first_blank = 5 + 2 * n
for i = 5, first_blank - 1, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
for i = first_blank, #ARGV do
  if redis.call('HEXISTS', KEYS[2], ARGV[i]) == 1 then
    redis.call('HSET', KEYS[2], ARGV[i], '')
  end
end
local new_name = redis.call('HGET', KEYS[2], 'name')
if old_name and old_name ~= new_name then
  local old_key = ARGV[3] .. old_name
  if redis.call('HGET', old_key, 'id') == id then
    redis.call('DEL', old_key)
  end
end
redis.call('HSET', KEYS[3], 'id', id)
redis.call('SADD', KEYS[1], id)
return 'ok'
