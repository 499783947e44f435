-- KEYS[1] meeting:<id>, KEYS[2] meeting_claim:<id>; ARGV[1] claim token; ARGV[2] 'confirm' or 'move';
-- for 'move': ARGV[3] server id, ARGV[4] moderator_pw, ARGV[5] claim milliseconds.
-- Returns 1 when the token held the claim and the record exists (and the change was made), else 0.
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[2] == 'confirm' then
  redis.call('DEL', KEYS[2])
else
  redis.call('HSET', KEYS[1], 'server_id', ARGV[3], 'moderator_pw', ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
end
return 1
