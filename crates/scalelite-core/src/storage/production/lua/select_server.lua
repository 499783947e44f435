-- The original's Server.find_available plus the load bump, atomically (prelude's select_server).
-- ARGV[3] '1' when the tags are required, ARGV[4..] the requested tags (none: untagged servers only).
return cjson.encode(select_server(ARGV[3] == '1', 4, #ARGV))
