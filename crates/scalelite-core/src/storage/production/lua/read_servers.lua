-- ARGV[3] = 'all' (every member of servers), 'available' (server_load ascending) or 'one' with ARGV[4] = id.
local mode = ARGV[3]
local out = {}
if mode == 'one' then
  local s = read_server(ARGV[4], true)
  if s then
    out[1] = s
  end
elseif mode == 'all' then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
    local s = read_server(id, true)
    if s then
      out[#out + 1] = s
    end
  end
else
  local zr = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
  for i = 1, #zr, 2 do
    local s = read_server(zr[i], true)
    if s then
      s.forced = zr[i + 1]
      out[#out + 1] = s
    end
  end
end
return cjson.encode(out)
