-- Placements in flight: the token of the create that is still on its way to the meeting's server, until
-- `expires_at` (ms). Kept apart from `meetings`, as the production store keeps it apart from the meeting hash.
CREATE TABLE IF NOT EXISTS meeting_claims (
    meeting_id TEXT    PRIMARY KEY NOT NULL,
    token      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Placements the balancer gave up on (create sent, no answer in time); the poller ends such a meeting if it shows
-- up on that server while the store maps it elsewhere and nobody joined.
CREATE TABLE IF NOT EXISTS abandoned_placements (
    meeting_id   TEXT    NOT NULL,
    server_id    TEXT    NOT NULL,
    moderator_pw TEXT    NOT NULL,
    abandoned_at INTEGER NOT NULL,
    PRIMARY KEY (meeting_id, server_id)
);
