-- Shared by the scripts that mark callback data free of URLs. In the mark hash `key` (callback_urls:<meeting id>),
-- mark `tenant`'s data (empty: none) clean at generation `gen`, the generation read before PostgreSQL was looked at,
-- unless a writer of URLs moved it on meanwhile; the hash lives `ttl` seconds more. 1 when marked.
local function mark_callbacks_clean(key, gen, tenant, ttl)
  local current = redis.call('HGET', key, 'gen:' .. tenant) or '0'
  if current ~= gen then
    return 0
  end
  redis.call('HSET', key, 'gen:' .. tenant, current, 'clean:' .. tenant, current)
  redis.call('EXPIRE', key, ttl)
  return 1
end
