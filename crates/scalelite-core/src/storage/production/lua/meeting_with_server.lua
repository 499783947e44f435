-- A meeting's record, its live claim and its server, in one round trip (server script conventions, plus
-- KEYS[5] the meeting's hash and KEYS[6] its claim). `s` is left out when its server record is gone. For a create,
-- KEYS[7] is the meeting's callback URL mark (callback_urls:<id>) and ARGV[3] the tenant id (empty: none): its
-- `gen:` and `clean:` fields come back as `g` and `cl`, whether the meeting exists or not; with ARGV[4] ('1' when the
-- tags are required, '0' when not) and ARGV[5..] the requested tags, a meeting that does not exist gets a server
-- picked for it as select_server.lua picks (its load bumped), which comes back as `p`.
local out = {}
if KEYS[7] then
  local mark = redis.call('HMGET', KEYS[7], 'gen:' .. ARGV[3], 'clean:' .. ARGV[3])
  if mark[1] then
    out.g = mark[1]
  end
  if mark[2] then
    out.cl = mark[2]
  end
end
local flat = redis.call('HGETALL', KEYS[5])
if #flat == 0 then
  if KEYS[7] and ARGV[4] then
    out.p = select_server(ARGV[4] == '1', 5)
  end
  return cjson.encode(out)
end
local m = {}
for i = 1, #flat, 2 do
  m[flat[i]] = flat[i + 1]
end
out.m = m
local claim = redis.call('GET', KEYS[6])
if claim then
  out.c = claim
end
if m.server_id then
  out.s = read_server(m.server_id)
end
return cjson.encode(out)
