-- KEYS[1] meetings, KEYS[2] voice_bridges; ARGV[1] prefix of meeting:<id>; ARGV[2] 'm' or 'v';
-- then ids (mode m) or bridge/id pairs (mode v) to check. Returns how many entries were removed.
local removed = 0
if ARGV[2] == 'm' then
  for i = 3, #ARGV do
    if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 then
      removed = removed + redis.call('SREM', KEYS[1], ARGV[i])
    end
  end
else
  for i = 3, #ARGV, 2 do
    local vb, id = ARGV[i], ARGV[i + 1]
    if redis.call('HGET', KEYS[2], vb) == id and redis.call('EXISTS', ARGV[1] .. id) == 0 then
      removed = removed + redis.call('HDEL', KEYS[2], vb)
    end
  end
end
return removed
