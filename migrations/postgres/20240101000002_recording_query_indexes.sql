-- Indexes of ours (the original has none of them) for getRecordings at a million recordings. Additive only; the
-- original ignores them.

-- meta_ filters and the tenant filter: find recordings by (key, value) from the index alone.
CREATE INDEX IF NOT EXISTS index_metadata_on_key_and_value_and_recording_id ON metadata (key, value, recording_id);
-- Newest first, with offset/limit.
CREATE INDEX IF NOT EXISTS index_recordings_on_starttime ON recordings (starttime);
-- recordID prefix matching (LIKE 'prefix%') whatever the database collation.
CREATE INDEX IF NOT EXISTS index_recordings_on_record_id_pattern ON recordings (record_id varchar_pattern_ops);
-- Callback data is looked up by meeting id (create, import, analytics relay).
CREATE INDEX IF NOT EXISTS index_callback_data_on_meeting_id_lookup ON callback_data (meeting_id);
