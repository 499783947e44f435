-- KEYS[1] protector_token_<hex>: read and delete at once (one-time token; GETDEL needs Redis 6.2).
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
end
return v
