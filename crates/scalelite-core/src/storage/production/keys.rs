//! Every Redis key name of the production back-end, in one place.
//!
//! The original Scalelite writes through redis-namespace, which prepends `<namespace>:` to every logical key
//! (`server:abc` is stored as `scalelite:server:abc`). These builders apply the same prefix, so a Redis shared with
//! a running original sees one layout. An empty namespace means no prefix at all.
//!
//! Lua scripts that must build keys for ids they discover at run time (for example every member of `server_load`)
//! receive the prefixes from here as arguments, so no key format is spelled out anywhere else.

#[cfg(test)]
mod tests;

/// Builds physical key names under one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// `<namespace>:`, or empty for no namespace.
    prefix: String,
}

impl Keys {
    /// Keys under `namespace` (`scalelite` in production, a random one in tests).
    pub fn new(namespace: &str) -> Self {
        let prefix = if namespace.is_empty() {
            String::new()
        } else {
            format!("{namespace}:")
        };
        Self { prefix }
    }

    /// The physical form of a logical key.
    pub fn logical(&self, logical: &str) -> String {
        format!("{}{logical}", self.prefix)
    }

    /// Pattern matching every key of this namespace (for SCAN in tests and tools).
    pub fn pattern(&self) -> String {
        format!("{}*", self.prefix)
    }

    /// SET of every server id.
    pub fn servers(&self) -> String {
        self.logical("servers")
    }

    /// HASH of one server's attributes.
    pub fn server(&self, id: &str) -> String {
        format!("{}{id}", self.server_prefix())
    }

    /// Prefix of `server:<id>`, for scripts.
    pub fn server_prefix(&self) -> String {
        self.logical("server:")
    }

    /// SET of administratively enabled servers.
    pub fn server_enabled(&self) -> String {
        self.logical("server_enabled")
    }

    /// ZSET of available servers and their load.
    pub fn server_load(&self) -> String {
        self.logical("server_load")
    }

    /// ZSET of cordoned servers and their load.
    pub fn cordoned_server_load(&self) -> String {
        self.logical("cordoned_server_load")
    }

    /// HASH of a server's health counters. The original keys it by the bare server id.
    pub fn counters(&self, id: &str) -> String {
        format!("{}{id}", self.counters_prefix())
    }

    /// Prefix of the bare-id counters hash, for scripts (the namespace prefix alone).
    pub fn counters_prefix(&self) -> String {
        self.prefix.clone()
    }

    /// SET of every known meeting id.
    pub fn meetings(&self) -> String {
        self.logical("meetings")
    }

    /// HASH of one meeting.
    pub fn meeting(&self, id: &str) -> String {
        format!("{}{id}", self.meeting_prefix())
    }

    /// Prefix of `meeting:<id>`, for scripts.
    pub fn meeting_prefix(&self) -> String {
        self.logical("meeting:")
    }

    /// STRING: the token of the placement in flight for meeting `id`, expiring with its claim (ours; kept out of
    /// the meeting hash, whose fields the original reads as attributes).
    pub fn meeting_claim(&self, id: &str) -> String {
        self.logical(&format!("meeting_claim:{id}"))
    }

    /// STRING: JSON of what meeting `id`'s `create` was forwarded with, expiring with the meeting (ours, for
    /// meeting failover; the original never reads it).
    pub fn meeting_create_params(&self, id: &str) -> String {
        self.logical(&format!("meeting_create_params:{id}"))
    }

    /// HASH of placements given up on: field `["<meeting id>","<server id>"]` (JSON), value
    /// `{"pw":…,"at":<ms>}` (ours).
    pub fn abandoned_placements(&self) -> String {
        self.logical("abandoned_placements")
    }

    /// HASH voice bridge number → meeting id.
    pub fn voice_bridges(&self) -> String {
        self.logical("voice_bridges")
    }

    /// SET of tenant ids.
    pub fn tenants(&self) -> String {
        self.logical("tenants")
    }

    /// HASH of one tenant.
    pub fn tenant(&self, id: &str) -> String {
        self.logical(&format!("tenant:{id}"))
    }

    /// HASH `id` → tenant id, the name index.
    pub fn tenant_name(&self, name: &str) -> String {
        self.logical(&format!("tenant_name:{name}"))
    }

    /// SET of the setting ids of one tenant.
    pub fn tenant_settings(&self, tenant_id: &str) -> String {
        self.logical(&format!("tenant_settings:{tenant_id}"))
    }

    /// HASH of one tenant setting.
    pub fn tenant_setting(&self, id: &str) -> String {
        self.logical(&format!("tenant_setting:{id}"))
    }

    /// STRING holding a one-time playback token's JSON payload.
    pub fn protector_token(&self, token: &str) -> String {
        self.logical(&format!("protector_token_{token}"))
    }

    /// STRING written and read by the health check.
    pub fn health_check(&self) -> String {
        self.logical("__health_check_set__")
    }

    /// HASH meeting id → when a poll cycle first found it missing, in ms (ours; the original keeps no such state).
    pub fn missing_meetings(&self) -> String {
        self.logical("poller_missing_meetings")
    }

    /// HASH telling, per tenant, whether the meeting's callback data in PostgreSQL is known to hold no callback
    /// URL (ours; the original reads PostgreSQL on every create): `gen:<tenant id>` counts the writes of URLs,
    /// `clean:<tenant id>` is the generation found without URLs (empty tenant id: none). It expires only when every
    /// generation in it is clean.
    pub fn callback_urls(&self, meeting_id: &str) -> String {
        self.logical(&format!("callback_urls:{meeting_id}"))
    }

    /// STRING (ours) present once every callback data row with URLs has its generation in its `callback_urls`
    /// hash: from then on a meeting without a generation has no URL to clear, and its create skips PostgreSQL.
    /// Holds the run id of the Redis server it was written in; written by `ProductionStore::index_callback_urls`;
    /// never expires.
    pub fn callback_urls_indexed(&self) -> String {
        self.logical("callback_urls_indexed")
    }

    /// STRING holding the holder of a lease (ours; the original has no leases).
    pub fn lease(&self, name: &str) -> String {
        self.logical(&format!("lease:{name}"))
    }
}
