-- The poller's marks: meetings a poll cycle found missing (not reported by their server) and when that cycle read
-- the meetings (milliseconds since the epoch). Shared by every poller process and one-off cycle.
CREATE TABLE IF NOT EXISTS missing_meetings (
    meeting_id TEXT    PRIMARY KEY NOT NULL,
    since_ms   INTEGER NOT NULL
);
