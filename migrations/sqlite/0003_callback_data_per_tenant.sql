-- Callback data is keyed by meeting id and tenant ('' without one), so two tenants using the same meeting id never
-- see each other's callback URLs; it also remembers the server the meeting was created on, whose secret must sign
-- the analytics callbacks relayed for it. SQLite cannot change a primary key in place: rebuild the table.
CREATE TABLE callback_data_per_tenant (
    meeting_id             TEXT    NOT NULL,
    tenant_id              TEXT    NOT NULL DEFAULT '',
    server_id              TEXT,
    recording_id           INTEGER,
    recording_ready_url    TEXT,
    analytics_callback_url TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, tenant_id)
);
INSERT INTO callback_data_per_tenant
    (meeting_id, recording_id, recording_ready_url, analytics_callback_url, created_at, updated_at)
    SELECT meeting_id, recording_id, recording_ready_url, analytics_callback_url, created_at, updated_at
    FROM callback_data;
DROP TABLE callback_data;
ALTER TABLE callback_data_per_tenant RENAME TO callback_data;
