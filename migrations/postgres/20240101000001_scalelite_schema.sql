-- The original Scalelite's tables (db/schema.rb, version 2023_06_27_141045), written to adopt a database the
-- original created: every statement only adds what is missing and never drops or rewrites data.
--
-- Names (tables, columns, indexes, sequences, primary keys) are exactly Rails' so the original can run on a
-- database we created, and we can run on one it created. Databases built by the original's migrations (rather than
-- from schema.rb) have `published`, `protected` and `publish_updated` nullable; the store reads NULL as false and
-- these statements leave such columns as they are.

CREATE TABLE IF NOT EXISTS recordings (
    id bigserial PRIMARY KEY,
    record_id character varying,
    meeting_id character varying,
    name character varying,
    published boolean DEFAULT false NOT NULL,
    participants integer,
    state character varying,
    starttime timestamp without time zone,
    endtime timestamp without time zone,
    deleted_at timestamp without time zone,
    protected boolean DEFAULT false NOT NULL,
    publish_updated boolean DEFAULT false NOT NULL
);
-- Columns added by later migrations of the original (20210630205630, 20210725200414).
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS protected boolean DEFAULT false NOT NULL;
ALTER TABLE recordings ADD COLUMN IF NOT EXISTS publish_updated boolean DEFAULT false NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS index_recordings_on_record_id ON recordings (record_id);
CREATE INDEX IF NOT EXISTS index_recordings_on_meeting_id ON recordings (meeting_id);

CREATE TABLE IF NOT EXISTS metadata (
    id bigserial PRIMARY KEY,
    recording_id bigint,
    key character varying,
    value character varying
);
CREATE UNIQUE INDEX IF NOT EXISTS index_metadata_on_recording_id_and_key ON metadata (recording_id, key);

CREATE TABLE IF NOT EXISTS playback_formats (
    id bigserial PRIMARY KEY,
    recording_id bigint,
    format character varying,
    url character varying,
    length integer,
    processing_time integer
);
CREATE UNIQUE INDEX IF NOT EXISTS index_playback_formats_on_recording_id_and_format
    ON playback_formats (recording_id, format);

CREATE TABLE IF NOT EXISTS thumbnails (
    id bigserial PRIMARY KEY,
    playback_format_id bigint,
    width integer,
    height integer,
    alt character varying,
    url character varying,
    sequence integer
);
CREATE INDEX IF NOT EXISTS index_thumbnails_on_playback_format_id ON thumbnails (playback_format_id);

CREATE TABLE IF NOT EXISTS callback_data (
    id bigserial PRIMARY KEY,
    meeting_id character varying,
    recording_id integer,
    callback_attributes text,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);

-- Rails' bookkeeping. Without it, the original's start script (`rake db:migrate` on an existing database) would
-- run its first migration, whose `create_table ... force: :cascade` drops the recording tables. Marking the
-- original's migrations as applied makes a rollback to the original safe on a database we created.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version character varying PRIMARY KEY
);
INSERT INTO schema_migrations (version) VALUES
    ('20181123180008'),
    ('20210425184558'),
    ('20210630205630'),
    ('20210725200414'),
    ('20221111194252'),
    ('20230627141045')
ON CONFLICT (version) DO NOTHING;

CREATE TABLE IF NOT EXISTS ar_internal_metadata (
    key character varying PRIMARY KEY,
    value character varying,
    created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL
);
INSERT INTO ar_internal_metadata (key, value, created_at, updated_at)
VALUES ('environment', 'production', (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC'))
ON CONFLICT (key) DO NOTHING;
