-- Confirms the placements of several new meetings at once: for each, what settle_claim.lua's 'confirm' does. Per
-- meeting four keys: meeting:<id>, meeting_claim:<id>, its kept create parameters, callback_urls:<id>; and six
-- values: the claim token, the create parameters to keep (JSON) and their TTL in seconds, written whether or not the
-- token holds the claim; then the generation to mark the callback data clean at ('' for no mark), its tenant and
-- the mark's TTL in seconds (mark_clean.lua), also whatever the claim.
-- Returns a list with, per meeting in order, 1 when the token held the claim and the record exists (the claim is
-- dropped), 0 when not, or the error that stopped this meeting's confirmation (a key of another type): one
-- meeting's error does not stop the others'.
local function confirm(k, a)
  redis.call('SET', KEYS[k + 3], ARGV[a + 2], 'EX', ARGV[a + 3])
  if ARGV[a + 4] ~= '' then
    mark_callbacks_clean(KEYS[k + 4], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6])
  end
  if redis.call('GET', KEYS[k + 2]) == ARGV[a + 1] and redis.call('EXISTS', KEYS[k + 1]) == 1 then
    redis.call('DEL', KEYS[k + 2])
    return 1
  end
  return 0
end
local done = {}
for i = 0, #KEYS / 4 - 1 do
  local ok, result = pcall(confirm, 4 * i, 6 * i)
  if ok then
    done[i + 1] = result
  else
    done[i + 1] = type(result) == 'table' and (result.err or 'error') or tostring(result)
  end
end
return done
