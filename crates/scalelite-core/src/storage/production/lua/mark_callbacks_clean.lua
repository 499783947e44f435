-- KEYS[1] callback_urls:<meeting id>; ARGV[1] the field's generation as read before PostgreSQL was looked at,
-- ARGV[2] the tenant id (empty: none), ARGV[3] ttl in seconds. Mark the tenant's callback data free of URLs at that
-- generation, unless a writer of URLs moved it on meanwhile.
local gen = redis.call('HGET', KEYS[1], 'gen:' .. ARGV[2]) or '0'
if gen ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'gen:' .. ARGV[2], gen, 'clean:' .. ARGV[2], gen)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
