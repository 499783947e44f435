-- Shared by the scripts that mark callback data free of URLs. In the mark hash `key` (callback_urls:<meeting id>),
-- mark `tenant`'s data (empty: none) clean at generation `gen`, the generation read before PostgreSQL was looked at,
-- unless a writer of URLs moved it on meanwhile. 1 when marked.
-- The hash lives `ttl` seconds more only when no tenant's data in it may hold URLs (each generation is clean): a
-- generation must outlive the URLs it counts, since a meeting without one counts as free of URLs once the
-- callback data is indexed (callback_urls_indexed).
local function mark_callbacks_clean(key, gen, tenant, ttl)
  local current = redis.call('HGET', key, 'gen:' .. tenant) or '0'
  if current ~= gen then
    return 0
  end
  redis.call('HSET', key, 'gen:' .. tenant, current, 'clean:' .. tenant, current)
  local flat = redis.call('HGETALL', key)
  local fields = {}
  for i = 1, #flat, 2 do
    fields[flat[i]] = flat[i + 1]
  end
  for name, value in pairs(fields) do
    if string.sub(name, 1, 4) == 'gen:' and fields['clean:' .. string.sub(name, 5)] ~= value then
      return 1
    end
  end
  redis.call('EXPIRE', key, ttl)
  return 1
end
