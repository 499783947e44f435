//! The things Scalelite remembers: servers, meetings, tenants, recordings and callback data.
//!
//! These are plain data. How they are stored is `crate::storage`'s business; the field semantics follow the
//! original's Redis records and PostgreSQL rows (see `docs/compatibility.md#data`).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A secret string (BBB server secret, tenant secret). `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it (signing, verifying, storing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

/// Administrative state of a server. Legacy records without a `state` field map to `Enabled` or `Disabled`
/// from their membership of `server_enabled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    Enabled,
    Cordoned,
    Disabled,
}

impl ServerState {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerState::Enabled => "enabled",
            ServerState::Cordoned => "cordoned",
            ServerState::Disabled => "disabled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "enabled" => Some(ServerState::Enabled),
            "cordoned" => Some(ServerState::Cordoned),
            "disabled" => Some(ServerState::Disabled),
            _ => None,
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Statistics the poller writes for each server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStats {
    pub meetings: i64,
    pub users: i64,
    pub largest_meeting: i64,
    pub videos: i64,
}

/// A BBB server of the pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Server {
    pub id: String,
    /// API base URL, normally ending in `/bigbluebutton/api/` (the slash may be missing).
    pub url: String,
    pub secret: Secret,
    pub tag: Option<String>,
    /// Effective state (legacy records are mapped to `Enabled`/`Disabled`).
    pub state: ServerState,
    /// Current load: `Some` only for enabled or cordoned servers whose load is known.
    pub load: Option<f64>,
    pub online: bool,
    pub load_multiplier: f64,
    pub healthy_counter: i64,
    pub unhealthy_counter: i64,
    pub stats: ServerStats,
    pub bbb_version: Option<String>,
}

impl Server {
    /// The moderator password of a meeting created on this server without one: 8 alphanumerics derived from the
    /// server's secret and the meeting id. The original draws them at random; deriving them means a meeting that
    /// Scalelite forgot and places again on the same server gets the same password, so BBB answers
    /// `duplicateWarning` instead of `idNotUnique`. Without the server secret the password cannot be guessed.
    ///
    /// The production store derives the same inside Redis, in the script that picks the server and claims the
    /// meeting on it (`derived_password` in `storage/production/lua/prelude.lua`), so the derivation is what Redis'
    /// scripts compute fast: two calls of the built-in SHA-1, nested and keyed with the secret (the envelope
    /// construction, `SHA1(secret ":" hex(SHA1(secret ":moderatorPW:" id)))`; the inner digest never leaves, and
    /// only 8 characters of the outer one do). HMAC-SHA1 in Lua, byte by byte, cost 30 µs of Redis' one thread per
    /// new meeting; this costs 2. Its first 8 bytes, each modulo 62, index `A-Za-z0-9`.
    pub fn derived_moderator_password(&self, meeting_id: &str) -> String {
        use sha1::{Digest, Sha1};
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let secret = self.secret.expose().as_bytes();
        let inner = Sha1::new()
            .chain_update(secret)
            .chain_update(b":moderatorPW:")
            .chain_update(meeting_id.as_bytes())
            .finalize();
        let digest = Sha1::new()
            .chain_update(secret)
            .chain_update(b":")
            .chain_update(hex::encode(inner).as_bytes())
            .finalize();
        digest
            .iter()
            .take(8)
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect()
    }
}

/// What `ServerStore::add_server` needs; everything else starts at its default (offline, no load, zero stats).
#[derive(Clone, Debug, PartialEq)]
pub struct NewServer {
    pub id: String,
    pub url: String,
    pub secret: Secret,
    pub tag: Option<String>,
    pub state: ServerState,
    pub load_multiplier: f64,
}

/// A partial update of a server, applied atomically with the index maintenance the original performs.
///
/// - `state`: moving to `Cordoned` carries the load from `server_load` to `cordoned_server_load`, moving to
///   `Enabled` carries it back, moving to `Disabled` drops it (unless `load` is also given, which wins, except that
///   a disabled server never gets a load).
/// - `load`: `Some(Some(x))` writes the load into the set matching the (new) state, `Some(None)` removes it.
/// - `tag`: `Some(None)` or `Some(Some(""))` removes the tag.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerPatch {
    pub url: Option<String>,
    pub secret: Option<Secret>,
    pub tag: Option<Option<String>>,
    pub load_multiplier: Option<f64>,
    pub state: Option<ServerState>,
    pub online: Option<bool>,
    pub load: Option<Option<f64>>,
    pub stats: Option<ServerStats>,
    pub bbb_version: Option<String>,
}

/// A tag request from `meta_server-tag`: `a;b` means any of the tags, a trailing `!` makes it required, `none`
/// matches untagged servers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TagRequest {
    pub tags: Vec<String>,
    pub required: bool,
}

impl TagRequest {
    /// Parse the `meta_server-tag` value as the original does: blank means no tag, a trailing `!` is stripped and
    /// makes the tags required, `!` alone means no tag and not required, the rest is split on `;`.
    pub fn parse(value: Option<&str>) -> Self {
        let value = value.map(str::trim).unwrap_or_default();
        if value.is_empty() {
            return Self::default();
        }
        let (value, required) = match value.strip_suffix('!') {
            Some(rest) => (rest, true),
            None => (value, false),
        };
        if value.is_empty() {
            return Self::default();
        }
        Self {
            tags: value.split(';').map(str::to_owned).collect(),
            required,
        }
    }

    /// The tag string as the `serverTagUnavailable` message shows it (without `!`).
    pub fn display(&self) -> String {
        self.tags.join(";")
    }
}

/// A meeting placed on a server: the record behind `meeting:<meetingID>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meeting {
    /// The client's meetingID (global across tenants).
    pub id: String,
    pub server_id: String,
    pub moderator_pw: String,
    pub voice_bridge: String,
    /// `None` when the meeting was created without a tenant (stored as `""`).
    pub tenant_id: Option<String>,
}

/// Input of `MeetingStore::find_or_create_meeting`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMeeting {
    pub id: String,
    pub server_id: String,
    pub moderator_pw: String,
    /// Voice bridge numbers to try, in order; the first not held by another meeting is taken. A number already
    /// held by this same meeting id may be reused.
    pub voice_bridge_candidates: Vec<String>,
    pub tenant_id: Option<String>,
}

/// Result of `find_or_create_meeting`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeetingPlacement {
    /// A new record was written.
    Created(Meeting),
    /// A record already existed (perhaps on another server); it is returned unchanged.
    Existing(Meeting),
}

impl MeetingPlacement {
    pub fn meeting(&self) -> &Meeting {
        match self {
            MeetingPlacement::Created(m) | MeetingPlacement::Existing(m) => m,
        }
    }

    pub fn into_meeting(self) -> Meeting {
        match self {
            MeetingPlacement::Created(m) | MeetingPlacement::Existing(m) => m,
        }
    }
}

/// A meeting record together with the in-flight placement that holds it, if any (`MeetingStore::meeting_state`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeetingState {
    pub meeting: Meeting,
    /// The token of the placement whose `create` is still on its way to `meeting.server_id`; `None` once the
    /// placement was confirmed, or when its claim lapsed (its holder gave up or died).
    pub claim: Option<String>,
}

/// A meeting's record, its live claim and the server it is placed on, read together in one round trip
/// (`MeetingStore::meeting_with_server`).
#[derive(Clone, Debug)]
pub struct PlacedMeeting {
    pub state: MeetingState,
    /// `None` when the meeting's server record is gone.
    pub server: Option<Server>,
}

/// What a meeting's `create` was forwarded to BBB with (after defaults, overrides and exclusions), kept so the
/// meeting can be created again, identically, on another server when its own is lost (meeting failover).
/// `Debug` lists only the parameter names: the values hold the meeting's passwords.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateParams {
    /// Parameter name and value, in the order they were sent.
    pub params: Vec<(String, String)>,
    /// The pre-uploaded presentation XML body, when it was sent and small enough to keep.
    pub body: Option<String>,
    /// The server tag the create asked for (`meta_server-tag` as requested, `!` included), so the meeting is
    /// placed again under the same tag rule.
    #[serde(default)]
    pub server_tag: Option<String>,
}

impl fmt::Debug for CreateParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CreateParams")
            .field(
                "names",
                &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.as_ref().map(String::len))
            .field("server_tag", &self.server_tag)
            .finish()
    }
}

/// A placement the balancer gave up on: `create` was sent to `server_id` but no answer came in time, so the
/// server may still create the meeting later. The poller ends such a meeting if the store does not map it to that
/// server and nobody joined it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbandonedPlacement {
    pub meeting_id: String,
    pub server_id: String,
    /// The moderator password sent with that `create` (needed to `end` it on BBB 2.x).
    pub moderator_pw: String,
    /// When it was abandoned, milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// A tenant (multitenancy): resolved from the first label of the request host.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    /// `:`-separated in storage.
    pub secrets: Vec<Secret>,
    pub lrs_endpoint: Option<String>,
    pub lrs_username: Option<String>,
    pub lrs_password: Option<Secret>,
    pub kc_token_url: Option<String>,
    pub kc_client_id: Option<String>,
    pub kc_client_secret: Option<Secret>,
    pub kc_username: Option<String>,
    pub kc_password: Option<Secret>,
}

/// A tenant setting: a default (or, with `override`, forced) create/join parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantSetting {
    pub id: String,
    pub tenant_id: String,
    pub param: String,
    pub value: String,
    pub override_value: bool,
}

/// Callback URLs captured at create, keyed by the client's meetingID and the tenant (`None` without
/// multitenancy), so two tenants using the same meetingID never see each other's URLs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackData {
    pub meeting_id: String,
    /// The tenant that created the meeting; part of the key.
    pub tenant_id: Option<String>,
    /// The server the meeting was created on: analytics callbacks for the meeting must carry a token signed with
    /// its secret.
    pub server_id: Option<String>,
    pub recording_id: Option<i64>,
    pub recording_ready_url: Option<String>,
    pub analytics_callback_url: Option<String>,
}

/// Recording states the original accepts (`None` is allowed too).
pub const RECORDING_STATES: [&str; 5] = [
    "processing",
    "processed",
    "published",
    "unpublished",
    "deleted",
];

/// A recording with everything getRecordings shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    pub record_id: String,
    pub meeting_id: String,
    pub name: Option<String>,
    pub published: bool,
    pub participants: Option<i32>,
    pub state: Option<String>,
    pub starttime: Option<DateTime<Utc>>,
    pub endtime: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub protected: bool,
    pub publish_updated: bool,
    /// In storage order.
    pub metadata: Vec<(String, String)>,
    /// Ordered by format name.
    pub playback_formats: Vec<PlaybackFormat>,
}

/// One playback format of a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaybackFormat {
    pub format: String,
    /// Path (and query) on the Scalelite host, e.g. `/playback/presentation/2.3/<record id>`.
    pub url: String,
    /// Minutes.
    pub length: Option<i32>,
    pub processing_time: Option<i32>,
    /// Ordered by sequence.
    pub thumbnails: Vec<Thumbnail>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub alt: Option<String>,
    pub url: String,
    pub sequence: i32,
}

/// Filter of `RecordingStore::find_recordings` (getRecordings). All conditions are ANDed; see
/// `docs/compatibility.md#api-getrecordings`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingFilter {
    /// Exact meeting ids (`None`: no condition).
    pub meeting_ids: Option<Vec<String>>,
    /// Case-sensitive record id prefixes, ORed (`Some(vec![])` matches nothing).
    pub record_id_prefixes: Option<Vec<String>>,
    /// Exact record ids (publish, update, delete).
    pub record_ids: Option<Vec<String>>,
    /// Allowed states (`None`: any state).
    pub states: Option<Vec<String>>,
    /// A recording matches if any metadata row equals one (key, value) pair (OR across all pairs).
    pub metadata_any: Option<Vec<(String, String)>>,
    /// Only recordings with metadata `tenant-id` = this (independent of `metadata_any`).
    pub tenant_id: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}
