-- KEYS[1] meeting:<id>, KEYS[2] meeting_claim:<id>; ARGV[1] claim token; ARGV[2] 'confirm', 'move' or 'takeover';
-- for 'move': ARGV[3] server id, ARGV[4] moderator_pw, ARGV[5] claim milliseconds;
-- for 'takeover': ARGV[3] the server the record must still point at, ARGV[4] claim milliseconds.
-- Returns 1 when the change was made, else 0: 'confirm'/'move' need the token to hold the claim and the record to
-- exist; 'takeover' needs the record on ARGV[3] and no live claim. A new meeting's confirmation, which also keeps
-- its create parameters, is confirm_placements.lua.
if ARGV[2] == 'takeover' then
  if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HGET', KEYS[1], 'server_id') ~= ARGV[3] then
    return 0
  end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
  return 1
end
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
