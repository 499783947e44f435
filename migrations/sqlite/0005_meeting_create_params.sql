-- Meeting failover: what each meeting's `create` was forwarded to BBB with (a JSON list of [name, value] pairs and
-- the pre-uploaded presentation XML, if kept, and the server tag asked for), so the meeting can be created again on another server. A row is
-- read only while its meeting row lives and is deleted with it.
CREATE TABLE IF NOT EXISTS meeting_create_params (
    meeting_id TEXT PRIMARY KEY NOT NULL,
    params     TEXT NOT NULL,
    body       TEXT,
    server_tag TEXT
);
