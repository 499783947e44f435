-- KEYS[1] meeting:<id>, KEYS[2] meeting_claim:<id>, KEYS[3] the meeting's kept create parameters; ARGV[1] claim
-- token; ARGV[2] 'confirm', 'move' or 'takeover';
-- for 'confirm': optionally ARGV[3] the create parameters to keep (JSON) and ARGV[4] their TTL in seconds, written
-- whether or not the token holds the claim; then optionally KEYS[4] callback_urls:<id> and ARGV[5..7] the
-- generation, tenant and TTL to mark its callback data clean with (mark_clean.lua), also whatever the claim;
-- for 'move': ARGV[3] server id, ARGV[4] moderator_pw, ARGV[5] claim milliseconds;
-- for 'takeover': ARGV[3] the server the record must still point at, ARGV[4] claim milliseconds.
-- Returns 1 when the change was made, else 0: 'confirm'/'move' need the token to hold the claim and the record to
-- exist; 'takeover' needs the record on ARGV[3] and no live claim.
if ARGV[2] == 'takeover' then
  if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('HGET', KEYS[1], 'server_id') ~= ARGV[3] then
    return 0
  end
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
  return 1
end
if ARGV[2] == 'confirm' and ARGV[3] then
  redis.call('SET', KEYS[3], ARGV[3], 'EX', ARGV[4])
end
if ARGV[2] == 'confirm' and ARGV[5] then
  mark_callbacks_clean(KEYS[4], ARGV[5], ARGV[6], ARGV[7])
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
