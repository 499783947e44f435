-- A meeting's record, its live claim and its server, in one round trip (server script conventions, plus
-- KEYS[5] the meeting's hash and KEYS[6] its claim). Returns {} when the meeting is absent; `s` is left out when
-- its server record is gone.
local flat = redis.call('HGETALL', KEYS[5])
if #flat == 0 then
  return cjson.encode({})
end
local m = {}
for i = 1, #flat, 2 do
  m[flat[i]] = flat[i + 1]
end
local out = { m = m }
local claim = redis.call('GET', KEYS[6])
if claim then
  out.c = claim
end
if m.server_id then
  out.s = read_server(m.server_id)
end
return cjson.encode(out)
