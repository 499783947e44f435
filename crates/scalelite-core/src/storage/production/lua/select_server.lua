-- The original's Server.find_available plus the load bump, atomically.
-- ARGV[3] '1' when the tags are required, ARGV[4..] the requested tags (none: untagged servers only).
local required = ARGV[3] == '1'
local zr = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
if #zr == 0 then
  return cjson.encode({ r = 'none' })
end
local entries = {}
for i = 1, #zr, 2 do
  local tag = redis.call('HGET', SP .. zr[i], 'tag')
  if tag == '' then
    tag = false
  end
  entries[#entries + 1] = { id = zr[i], score = zr[i + 1], tag = tag, pos = #entries + 1 }
end
local candidates = {}
if #ARGV >= 4 then
  for j = 4, #ARGV do
    for _, e in ipairs(entries) do
      if (e.tag or 'none') == ARGV[j] then
        candidates[#candidates + 1] = e
      end
    end
  end
  table.sort(candidates, function(a, b)
    local sa, sb = num(a.score), num(b.score)
    if sa ~= sb then
      return sa < sb
    end
    return a.pos < b.pos
  end)
end
if #candidates == 0 then
  if required then
    return cjson.encode({ r = 'tag' })
  end
  for _, e in ipairs(entries) do
    if not e.tag then
      candidates[#candidates + 1] = e
    end
  end
end
for _, e in ipairs(candidates) do
  if redis.call('EXISTS', SP .. e.id) == 1 then
    local lm = redis.call('HGET', SP .. e.id, 'load_multiplier')
    if not lm or not tonumber(lm) then
      lm = '1'
    end
    local new_load = redis.call('ZINCRBY', KEYS[3], lm, e.id)
    local s = read_server(e.id)
    s.forced = new_load
    return cjson.encode({ r = 'ok', s = s })
  end
end
return cjson.encode({ r = 'none' })
