-- Embedded (all-in-one) schema: everything the production back-end keeps in Redis and PostgreSQL, in one SQLite
-- file. Timestamps are integer milliseconds since the Unix epoch (UTC). `IF NOT EXISTS` everywhere so that two
-- processes racing to migrate a fresh file cannot leave it half-created (the loser retries and finds it applied).

-- Servers: one row per server. `load` is NULL when unknown and always NULL for disabled servers; a server takes
-- new meetings exactly when `state = 'enabled' AND load IS NOT NULL` (the original's `server_load` set). A
-- cordoned server keeps its load in the same column (the original's `cordoned_server_load`).
CREATE TABLE IF NOT EXISTS servers (
    id              TEXT    PRIMARY KEY NOT NULL,
    url             TEXT    NOT NULL,
    secret          TEXT    NOT NULL,
    tag             TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('enabled', 'cordoned', 'disabled')),
    load            REAL,
    online          INTEGER NOT NULL DEFAULT 0,
    load_multiplier REAL    NOT NULL DEFAULT 1.0,
    meetings        INTEGER NOT NULL DEFAULT 0,
    users           INTEGER NOT NULL DEFAULT 0,
    largest_meeting INTEGER NOT NULL DEFAULT 0,
    videos          INTEGER NOT NULL DEFAULT 0,
    bbb_version     TEXT,
    CHECK (state <> 'disabled' OR load IS NULL)
);
CREATE INDEX IF NOT EXISTS servers_available ON servers (load, id) WHERE state = 'enabled' AND load IS NOT NULL;

-- Poller health counters. Kept apart from `servers` like the original's bare-id hash: incrementing works for any
-- id; deleting the server removes them.
CREATE TABLE IF NOT EXISTS server_counters (
    server_id         TEXT    PRIMARY KEY NOT NULL,
    healthy_counter   INTEGER NOT NULL DEFAULT 0,
    unhealthy_counter INTEGER NOT NULL DEFAULT 0
);

-- Meetings; a row whose `expires_at` has passed is treated as absent everywhere and removed by clean_orphans.
CREATE TABLE IF NOT EXISTS meetings (
    id           TEXT    PRIMARY KEY NOT NULL,
    server_id    TEXT    NOT NULL,
    moderator_pw TEXT    NOT NULL,
    voice_bridge TEXT    NOT NULL,
    tenant_id    TEXT,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS meetings_server_id ON meetings (server_id);

-- Voice bridge number -> meeting id (uniqueness and dial-in lookup).
CREATE TABLE IF NOT EXISTS voice_bridges (
    number     TEXT PRIMARY KEY NOT NULL,
    meeting_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS voice_bridges_meeting_id ON voice_bridges (meeting_id);

CREATE TABLE IF NOT EXISTS tenants (
    id               TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    secrets          TEXT NOT NULL,
    lrs_endpoint     TEXT,
    lrs_username     TEXT,
    lrs_password     TEXT,
    kc_token_url     TEXT,
    kc_client_id     TEXT,
    kc_client_secret TEXT,
    kc_username      TEXT,
    kc_password      TEXT
);

-- Name -> tenant id. Like the original's `tenant_name:<name>` index, the last tenant saved with a name owns it.
CREATE TABLE IF NOT EXISTS tenant_names (
    name      TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tenant_settings (
    id             TEXT    PRIMARY KEY NOT NULL,
    tenant_id      TEXT    NOT NULL,
    param          TEXT    NOT NULL,
    value          TEXT    NOT NULL,
    override_value INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS tenant_settings_tenant_id ON tenant_settings (tenant_id);

-- Recordings, mirroring the original's PostgreSQL tables.
CREATE TABLE IF NOT EXISTS recordings (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id       TEXT    NOT NULL UNIQUE,
    meeting_id      TEXT    NOT NULL,
    name            TEXT,
    published       INTEGER NOT NULL DEFAULT 0,
    participants    INTEGER,
    state           TEXT,
    starttime       INTEGER,
    endtime         INTEGER,
    deleted_at      INTEGER,
    protected       INTEGER NOT NULL DEFAULT 0,
    publish_updated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS recordings_meeting_id ON recordings (meeting_id);
CREATE INDEX IF NOT EXISTS recordings_starttime ON recordings (starttime DESC, id DESC);

CREATE TABLE IF NOT EXISTS metadata (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    recording_id INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL,
    value        TEXT    NOT NULL,
    UNIQUE (recording_id, key)
);
CREATE INDEX IF NOT EXISTS metadata_key_value ON metadata (key, value, recording_id);

CREATE TABLE IF NOT EXISTS playback_formats (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recording_id    INTEGER NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
    format          TEXT    NOT NULL,
    url             TEXT    NOT NULL,
    length          INTEGER,
    processing_time INTEGER,
    UNIQUE (recording_id, format)
);

CREATE TABLE IF NOT EXISTS thumbnails (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    playback_format_id INTEGER NOT NULL REFERENCES playback_formats (id) ON DELETE CASCADE,
    width              INTEGER,
    height             INTEGER,
    alt                TEXT,
    url                TEXT    NOT NULL,
    sequence           INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS thumbnails_playback_format_id ON thumbnails (playback_format_id, sequence);

CREATE TABLE IF NOT EXISTS callback_data (
    meeting_id             TEXT    PRIMARY KEY NOT NULL,
    recording_id           INTEGER,
    recording_ready_url    TEXT,
    analytics_callback_url TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

-- One-time protected-recording playback tokens.
CREATE TABLE IF NOT EXISTS playback_tokens (
    token      TEXT    PRIMARY KEY NOT NULL,
    record_id  TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS playback_tokens_expires_at ON playback_tokens (expires_at);

-- Leases for single-active daemons (poller, importer).
CREATE TABLE IF NOT EXISTS leases (
    name       TEXT    PRIMARY KEY NOT NULL,
    holder     TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Written and read back by health_check.
CREATE TABLE IF NOT EXISTS health_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at INTEGER NOT NULL
);
