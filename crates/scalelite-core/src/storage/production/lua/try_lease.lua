-- KEYS[1] lease:<name>; ARGV[1] holder, ARGV[2] ttl in milliseconds. Acquire when free, renew when ours.
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
