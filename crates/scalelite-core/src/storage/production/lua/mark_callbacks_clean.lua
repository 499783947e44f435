-- KEYS[1] callback_urls:<meeting id>; ARGV[1] the field's generation as read before PostgreSQL was looked at,
-- ARGV[2] the tenant id (empty: none), ARGV[3] ttl in seconds (mark_clean.lua).
return mark_callbacks_clean(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
