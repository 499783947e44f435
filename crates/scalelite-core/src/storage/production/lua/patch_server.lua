-- ARGV[3] id, then op/value pairs: '@state' <state>, '@load' <score or '' to remove>, 'tag' '' (HDEL),
-- any other name: HSET name value. Index maintenance follows the original's Server#save!.
local id = ARGV[3]
local key = SP .. id
if redis.call('SISMEMBER', KEYS[1], id) == 0 or redis.call('EXISTS', key) == 0 then
  return cjson.encode({ r = 'missing' })
end
local new_state, load_given, load_arg = nil, false, nil
for i = 4, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  if f == '@state' then
    new_state = v
  elseif f == '@load' then
    load_given, load_arg = true, v
  elseif f == 'tag' and v == '' then
    redis.call('HDEL', key, 'tag')
  else
    redis.call('HSET', key, f, v)
  end
end
if new_state ~= nil or load_given then
  local stored = redis.call('HGET', key, 'state')
  local cur
  if stored == 'enabled' or stored == 'cordoned' or stored == 'disabled' then
    cur = stored
  elseif redis.call('SISMEMBER', KEYS[2], id) == 1 then
    cur = 'enabled'
  else
    cur = 'disabled'
  end
  local cur_load = false
  if cur == 'enabled' then
    cur_load = redis.call('ZSCORE', KEYS[3], id)
  elseif cur == 'cordoned' then
    cur_load = redis.call('ZSCORE', KEYS[4], id)
  end
  local target = new_state or cur
  -- An explicit load wins; otherwise the load moves with the state (cordon/uncordon keep it).
  local load = cur_load
  if load_given then
    load = (load_arg ~= '') and load_arg or false
  end
  if target == 'disabled' then
    load = false
  end
  if new_state ~= nil then
    redis.call('HSET', key, 'state', new_state)
  end
  if target == 'enabled' then
    redis.call('SADD', KEYS[2], id)
    redis.call('ZREM', KEYS[4], id)
    if load then
      redis.call('ZADD', KEYS[3], load, id)
    else
      redis.call('ZREM', KEYS[3], id)
    end
  elseif target == 'cordoned' then
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    if load then
      redis.call('ZADD', KEYS[4], load, id)
    else
      redis.call('ZREM', KEYS[4], id)
    end
  else
    redis.call('SREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
end
return cjson.encode({ r = 'ok', s = read_server(id, true) })
