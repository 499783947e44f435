//! Everything the services remember, behind one interface with two back-ends.
//!
//! - **Production**: Redis (servers, meetings, tenants, tokens, leases) with the original's key layout under
//!   `REDIS_NAMESPACE`, plus PostgreSQL (recordings, callback data) with the original's tables.
//! - **Embedded**: one SQLite file (WAL) for everything, shared by several processes.
//!
//! `Store` is chosen once at start-up and implements every trait by delegating to the back-end, so the rest of the
//! code sees one interface and one error type (`StoreError`). Operations the original makes atomic stay atomic
//! in both back-ends; `select_server` (pick the least-loaded server and bump its load) is atomic in both.

pub mod production;
pub mod sqlite;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use crate::domain::{
    AbandonedPlacement, CallbackData, CreateParams, Meeting, MeetingPlacement, MeetingState,
    NewMeeting, NewServer, PlacedMeeting, Recording, RecordingFilter, Server, ServerPatch,
    TagRequest, Tenant, TenantSetting,
};

/// The one storage error type.
#[derive(Clone, Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The store answered but refused or could not run the operation, or could not be reached in time.
    #[error("storage back-end error: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why `select_server` found nothing.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// No server is available at all (the original's "Could not find any available servers.").
    #[error("could not find any available servers")]
    NoServers,
    /// A required tag (`tag!`) matched no available server; carries the tag string without `!`.
    #[error("there is no available server with the required tag={0}")]
    TagUnavailable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Servers of the pool and their load.
pub trait ServerStore: Send + Sync {
    /// Every server, in no particular order.
    fn list_servers(&self) -> impl Future<Output = StoreResult<Vec<Server>>> + Send;
    /// `NotFound` when absent.
    fn get_server(&self, id: &str) -> impl Future<Output = StoreResult<Server>> + Send;
    /// `Conflict` when the id exists.
    fn add_server(&self, server: NewServer) -> impl Future<Output = StoreResult<Server>> + Send;
    /// Apply a partial update atomically (see `ServerPatch`). `NotFound` when absent. Returns the new record.
    fn patch_server(
        &self,
        id: &str,
        patch: ServerPatch,
    ) -> impl Future<Output = StoreResult<Server>> + Send;
    /// Remove the server, its load entries and its health counters. Meetings stay. `NotFound` when absent.
    fn delete_server(&self, id: &str) -> impl Future<Output = StoreResult<()>> + Send;
    /// Servers that can take new meetings (enabled with a known load), ascending load, ties by id.
    fn available_servers(&self) -> impl Future<Output = StoreResult<Vec<Server>>> + Send;
    /// Atomically pick the least-loaded available server matching `tags` (the original's `find_available`) and
    /// add `1 × load_multiplier` to its load, so concurrent callers never both see the old load. The server comes
    /// back as placing a meeting needs it: a store may leave out its health counters and statistics (0), which
    /// only `get_server` and the lists must show.
    fn select_server(
        &self,
        tags: &TagRequest,
    ) -> impl Future<Output = Result<Server, SelectError>> + Send;
    /// Add `amount` to the load of an available server (ZADD XX INCR): a no-op returning `None` for servers
    /// without a load in `server_load`. The caller multiplies by `load_multiplier`.
    fn increment_load(
        &self,
        id: &str,
        amount: f64,
    ) -> impl Future<Output = StoreResult<Option<f64>>> + Send;
    /// [`ServerStore::increment_load`] written behind: the caller does not wait, bumps of one server that queue up
    /// meanwhile are written as one, and a failure is logged, not returned. For a join's bump, which only steers
    /// the next placements until the poller's next figure replaces it. Must be called inside a tokio runtime.
    fn increment_load_behind(&self, id: &str, amount: f64);
    /// Health counters (the original's bare `<id>` hash). Each returns the new value.
    fn increment_healthy(&self, id: &str) -> impl Future<Output = StoreResult<i64>> + Send;
    fn increment_unhealthy(&self, id: &str) -> impl Future<Output = StoreResult<i64>> + Send;
    /// Set both counters to 0 (`healthy`/`unhealthy` choose which; both true resets both).
    fn reset_counters(
        &self,
        id: &str,
        healthy: bool,
        unhealthy: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Meetings placed on servers, and their voice bridges.
pub trait MeetingStore: Send + Sync {
    /// `NotFound` when absent or expired (tenant scoping is the caller's).
    fn get_meeting(&self, id: &str) -> impl Future<Output = StoreResult<Meeting>> + Send;
    /// Every live meeting (expired ones skipped).
    fn list_meetings(&self) -> impl Future<Output = StoreResult<Vec<Meeting>>> + Send;
    /// Atomic find-or-create: an existing record wins (unless both tenants are set and differ: `Conflict`);
    /// otherwise claim the first free voice bridge candidate (`Conflict` when none is free) and write the record
    /// with `ttl`.
    fn find_or_create_meeting(
        &self,
        meeting: NewMeeting,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<MeetingPlacement>> + Send;
    /// Remove the record, its `meetings` entry and its voice bridge. Absent is not an error (returns false).
    fn delete_meeting(&self, id: &str) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Meeting holding a voice bridge number (dial-in).
    fn meeting_by_voice_bridge(
        &self,
        voice_bridge: &str,
    ) -> impl Future<Output = StoreResult<Meeting>> + Send;
    /// Extend the TTL of these meetings (those still reported running by their servers).
    fn refresh_meetings(
        &self,
        ids: &[String],
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Remove `meetings` set entries and `voice_bridges` entries whose meeting record is gone; returns how many.
    fn clean_orphans(&self) -> impl Future<Output = StoreResult<u64>> + Send;

    // Placements in flight. A `create` that writes a new record also takes a *claim* on it: a token that lives
    // beside the record (never in it, so the original still reads the record) for `claim_for`. While the claim
    // lives, other creators wait instead of sending their own `create`; only the claim's holder may move the record
    // to another server, confirm it, or roll it back, so a placement that timed out never removes a record someone
    // else owns by now.

    /// `find_or_create_meeting`, and when the record is written here, also a claim `token` for `claim_for`.
    fn claim_meeting(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<MeetingPlacement>> + Send;
    /// A new meeting's placement as one step: `select_server` (the least-loaded server for `tags`, its load
    /// bumped) and `claim_meeting` of `meeting` on it, its `server_id` set to the server's and its `moderator_pw`
    /// to `moderator_pw(&server)` (what the caller put there is ignored). When the record is not created here
    /// (it exists, or the claim fails) the bump does not stay. `Err` when no server can be selected.
    fn place_meeting<P>(
        &self,
        tags: &TagRequest,
        meeting: NewMeeting,
        moderator_pw: P,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> impl Future<Output = Result<(Server, StoreResult<MeetingPlacement>), SelectError>> + Send
    where
        P: FnOnce(&Server) -> String + Send + 'static;
    /// The record and its live claim, read together; `None` when absent or expired.
    fn meeting_state(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<MeetingState>>> + Send;
    /// `meeting_state` and the meeting's server (`None` when its record is gone), read in one round trip: the
    /// per-meeting calls (join, isMeetingRunning, getMeetingInfo, create of an existing meeting) need both. A store
    /// may leave out the server's health counters (0): none of those calls uses them.
    fn meeting_with_server(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<PlacedMeeting>>> + Send;
    /// `meeting_with_server` for a create by `tenant_id`, with what the same read tells of the meeting's callback
    /// URLs (for [`RecordingStore::clear_callback_urls`]; the production store reads its mark in the same round
    /// trip, the embedded store whether the callback data holds URLs in the same statement). With `place`, a store
    /// that can (production) also places a meeting that does not exist, as `place_meeting` would, atomically with
    /// the read ([`CreateRead::placed_new`]).
    fn meeting_for_create(
        &self,
        id: &str,
        tenant_id: Option<&str>,
        place: Option<&NewPlacement<'_>>,
    ) -> impl Future<Output = StoreResult<CreateRead>> + Send;
    /// The `create` succeeded: drop the claim. False (and nothing changed) unless `token` holds it.
    fn confirm_meeting(
        &self,
        id: &str,
        token: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// `put_create_params` and `confirm_meeting` in one round trip (a new meeting's create succeeded): the
    /// parameters are kept whatever the claim's state, the claim is dropped only when `token` holds it (the
    /// answer is `confirm_meeting`'s). `clean`, what `RecordingStore::clear_callback_urls` left to mark, is
    /// marked in the same round trip, as [`RecordingStore::mark_callback_urls_clean`] would.
    fn confirm_meeting_with_params(
        &self,
        id: &str,
        token: &str,
        params: &CreateParams,
        ttl: Duration,
        clean: Option<&CallbackUrlsClean>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Fail over: point the record at another server (with that server's moderator password) and extend the
    /// claim by `claim_for`. False (and nothing changed) unless `token` holds the claim.
    fn move_meeting(
        &self,
        id: &str,
        token: &str,
        server_id: &str,
        moderator_pw: &str,
        claim_for: Duration,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Roll back: remove the record (as `delete_meeting`) and the claim. False (and nothing changed) unless
    /// `token` holds the claim.
    fn release_meeting(
        &self,
        id: &str,
        token: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Take the claim on a confirmed record still placed on `from_server` (meeting failover): true when taken
    /// with `token` for `claim_for`; false (nothing changed) when the record is absent, lives elsewhere by now, or
    /// another placement holds a live claim on it.
    fn take_over_meeting(
        &self,
        id: &str,
        from_server: &str,
        token: &str,
        claim_for: Duration,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Keep what the meeting's `create` was forwarded with, replacing an earlier copy. It lives as long as the
    /// meeting record (`ttl`, refreshed and deleted with it).
    fn put_create_params(
        &self,
        id: &str,
        params: &CreateParams,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The kept create parameters of a live meeting; `None` when absent (or the meeting is gone).
    fn get_create_params(
        &self,
        id: &str,
    ) -> impl Future<Output = StoreResult<Option<CreateParams>>> + Send;

    /// Remember a placement given up on (one entry per meeting and server; a newer one replaces it).
    fn record_abandoned(
        &self,
        placement: AbandonedPlacement,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Every remembered abandoned placement, oldest first.
    fn list_abandoned(&self) -> impl Future<Output = StoreResult<Vec<AbandonedPlacement>>> + Send;
    /// Forget one abandoned placement (absent is not an error).
    fn forget_abandoned(
        &self,
        meeting_id: &str,
        server_id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Tenants and their settings.
pub trait TenantStore: Send + Sync {
    fn list_tenants(&self) -> impl Future<Output = StoreResult<Vec<Tenant>>> + Send;
    fn get_tenant(&self, id: &str) -> impl Future<Output = StoreResult<Tenant>> + Send;
    /// Exact, case-sensitive lookup through the name index.
    fn get_tenant_by_name(&self, name: &str) -> impl Future<Output = StoreResult<Tenant>> + Send;
    /// `Conflict` when the id exists. The name index is (re)pointed at this tenant.
    fn add_tenant(&self, tenant: Tenant) -> impl Future<Output = StoreResult<Tenant>> + Send;
    /// Replace the record (renames move the name index). `NotFound` when absent.
    fn update_tenant(&self, tenant: Tenant) -> impl Future<Output = StoreResult<Tenant>> + Send;
    fn delete_tenant(&self, id: &str) -> impl Future<Output = StoreResult<()>> + Send;
    fn list_tenant_settings(
        &self,
        tenant_id: &str,
    ) -> impl Future<Output = StoreResult<Vec<TenantSetting>>> + Send;
    /// Insert or replace by id.
    fn put_tenant_setting(
        &self,
        setting: TenantSetting,
    ) -> impl Future<Output = StoreResult<TenantSetting>> + Send;
    fn delete_tenant_setting(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Recordings (the original's PostgreSQL tables) and callback data.
pub trait RecordingStore: Send + Sync {
    /// The importer's write: insert or update the recording by `record_id`, upsert its metadata by key and its
    /// playback formats by format (replacing each format's thumbnails), and link the `callback_data` of its meeting
    /// to it (as the original's importer does), all in one transaction. Returns the stored recording.
    ///
    /// The update is conditional: once a publish or unpublish call has set `publish_updated`, the stored
    /// `published` wins over the given one, `state` stays published/unpublished accordingly (an incoming
    /// published/unpublished state is replaced by the stored flag's; another state, such as `processing`, is taken),
    /// and `publish_updated` is never reset. The decision is made on the row as it is when the statement runs, so a
    /// publish that lands between the importer's read and its write is not reverted.
    fn upsert_recording(
        &self,
        recording: Recording,
    ) -> impl Future<Output = StoreResult<Recording>> + Send;
    fn get_recording(&self, record_id: &str)
    -> impl Future<Output = StoreResult<Recording>> + Send;
    /// Matching recordings, `starttime` descending, with metadata, formats and thumbnails, in a bounded number
    /// of queries.
    fn find_recordings(
        &self,
        filter: &RecordingFilter,
    ) -> impl Future<Output = StoreResult<Vec<Recording>>> + Send;
    /// Set `published`, `publish_updated = true` and `state` = published/unpublished.
    fn set_published(
        &self,
        record_id: &str,
        published: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    fn set_protected(
        &self,
        record_id: &str,
        protected: bool,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// On every listed recording, in one transaction: upsert `upserts`, delete the keys in `deletes`.
    fn update_metadata(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// updateRecordings: on every listed recording, in ONE transaction, upsert `upserts`, delete the keys in
    /// `deletes` and, when given, set `protected`. Either all of it is stored or none.
    fn update_recordings(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
        protect: Option<bool>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Lock the recording's row for a change that goes with file moves (publish, unpublish, delete): the row is
    /// read afresh under the lock, which is held until the lock is committed through one of its changes or
    /// released (dropping it releases it too). PostgreSQL: `SELECT ... FOR UPDATE` in a transaction (the lock the
    /// original takes); SQLite: a `BEGIN IMMEDIATE` transaction (the database write lock). `NotFound` when absent.
    ///
    /// While holding it, make no other write through the same store from the same task: on SQLite the lock holds
    /// the process's only write connection.
    fn lock_recording(
        &self,
        record_id: &str,
    ) -> impl Future<Output = StoreResult<RecordingLock>> + Send;
    /// Delete metadata and playback formats (with thumbnails) and set `state = 'deleted'`; the row stays.
    fn mark_recording_deleted(
        &self,
        record_id: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The callback data of `meeting_id` created by `tenant_id` (`None`: without a tenant).
    fn get_callback_data(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> impl Future<Output = StoreResult<Option<CallbackData>>> + Send;
    /// Insert or replace the callback data of `(data.tenant_id, data.meeting_id)`.
    fn put_callback_data(&self, data: CallbackData)
    -> impl Future<Output = StoreResult<()>> + Send;
    /// A create of `meeting_id` by `tenant_id` without callback URLs: drop the URLs an earlier create left (the
    /// callback data then names `server_id` and nothing else); nothing to do when there are none. `mark` is what
    /// [`MeetingStore::meeting_for_create`] read of them (or the default: nothing known). Returns what is left to
    /// mark so that the next create can skip the callback data (production: the data was read), for
    /// [`RecordingStore::mark_callback_urls_clean`] or a new meeting's confirmation, which write it in a round
    /// trip they make anyway; marked late or not at all, nothing is lost but that skip.
    fn clear_callback_urls(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
        server_id: &str,
        mark: &CallbackUrlsMark,
    ) -> impl Future<Output = StoreResult<Option<CallbackUrlsClean>>> + Send;
    /// Mark the callback data that `clean` was read from as free of URLs, unless URLs were written since.
    fn mark_callback_urls_clean(
        &self,
        clean: &CallbackUrlsClean,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// What a store knows of a meeting's callback URLs when `clear_callback_urls` comes: on the production store, the
/// generation of its Redis mark (`Keys::callback_urls`) and whether the data was found without URLs at it; on the
/// embedded store, whether the data held no URL when `meeting_for_create` read it with the meeting. The default
/// knows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbackUrlsMark {
    pub(crate) generation: Option<String>,
    pub(crate) clean: bool,
}

impl CallbackUrlsMark {
    /// Whether the callback data is known to hold no URL, so a create without them skips it.
    pub fn known_clean(&self) -> bool {
        self.clean
    }
}

/// What [`MeetingStore::meeting_for_create`] reads.
#[derive(Debug)]
pub struct CreateRead {
    /// The meeting, its claim and its server, as `meeting_with_server` reads them.
    pub placed: Option<PlacedMeeting>,
    pub mark: CallbackUrlsMark,
    /// The placement of a meeting that does not exist, made in the same step as `place_meeting` makes it (the
    /// server picked, its load bumped, the record claimed on it), or why no server could be picked: `None` unless
    /// asked for, the meeting exists or the store places only in `place_meeting` (embedded).
    pub placed_new: Option<Result<(Server, StoreResult<MeetingPlacement>), SelectError>>,
}

/// What [`MeetingStore::meeting_for_create`] needs to place a meeting that does not exist: `place_meeting`'s
/// arguments, with the moderator password given by the create or, when `None`, the picked server's
/// [`Server::derived_moderator_password`].
#[derive(Clone, Debug)]
pub struct NewPlacement<'a> {
    pub tags: &'a TagRequest,
    /// Its `server_id` and `moderator_pw` are set by the store.
    pub meeting: NewMeeting,
    pub moderator_pw: Option<String>,
    pub token: &'a str,
    pub claim_for: Duration,
    pub ttl: Duration,
}

/// Callback data found free of URLs (or just cleared of them) at a mark's generation, still to be marked so
/// (`RecordingStore::clear_callback_urls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackUrlsClean {
    pub(crate) meeting_id: String,
    pub(crate) tenant_id: Option<String>,
    pub(crate) generation: String,
}

/// A name for this process as the holder of a lease (`try_lease`): host name, process id and a random part, so two
/// processes (or two holders in one process) never share one.
pub fn lease_holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "scalelite".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether callback data holds a URL (what [`RecordingStore::clear_callback_urls`] drops).
pub(crate) fn has_callback_urls(data: &CallbackData) -> bool {
    data.analytics_callback_url.is_some() || data.recording_ready_url.is_some()
}

/// What [`RecordingStore::clear_callback_urls`] leaves of callback data that held URLs.
pub(crate) fn without_callback_urls(
    tenant_id: Option<&str>,
    meeting_id: &str,
    server_id: &str,
) -> CallbackData {
    CallbackData {
        meeting_id: meeting_id.to_owned(),
        tenant_id: tenant_id.map(str::to_owned),
        server_id: Some(server_id.to_owned()),
        ..CallbackData::default()
    }
}

/// Small shared state: one-time playback tokens, leases for single-active daemons, the poller's missing-meeting
/// marks, health.
pub trait MiscStore: Send + Sync {
    /// Store a one-time protected-recording token for `ttl`.
    fn put_playback_token(
        &self,
        token: &str,
        record_id: &str,
        format: &str,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Consume a token: returns `(record_id, format)` once, `None` afterwards or when expired.
    fn take_playback_token(
        &self,
        token: &str,
    ) -> impl Future<Output = StoreResult<Option<(String, String)>>> + Send;
    /// Acquire or renew the lease `name` for `holder` for `ttl`. True when `holder` holds it afterwards.
    fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Give the lease up if `holder` holds it.
    fn release_lease(
        &self,
        name: &str,
        holder: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The poller's marks: meetings some poll cycle found missing (not reported by their server), each with the
    /// time (milliseconds since the epoch) the cycle that first found it missing read the meetings. Kept in the
    /// store so every poller process and every one-off cycle (`poll:all`) continues the same count.
    fn missing_meetings(&self) -> impl Future<Output = StoreResult<HashMap<String, i64>>> + Send;
    /// Set the marks in `mark` (replacing older ones) and remove those of `clear`.
    fn update_missing_meetings(
        &self,
        mark: &[(String, i64)],
        clear: &[String],
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Round trip to every back-end (write and read), bounded in time. The error names each part that failed.
    fn health_check(&self) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A recording row locked for a change that goes with file moves (see `RecordingStore::lock_recording`).
///
/// Commit it through `set_published` or `mark_deleted`, or give it up with `release`; dropping it gives it up
/// too (the transaction is rolled back).
pub struct RecordingLock {
    recording: Recording,
    tx: LockTx,
}

enum LockTx {
    Embedded(sqlite::RecordingTx),
    Production(production::RecordingTx),
}

impl std::fmt::Debug for RecordingLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingLock")
            .field("record_id", &self.recording.record_id)
            .finish_non_exhaustive()
    }
}

impl RecordingLock {
    pub(crate) fn embedded(recording: Recording, tx: sqlite::RecordingTx) -> Self {
        Self {
            recording,
            tx: LockTx::Embedded(tx),
        }
    }

    pub(crate) fn production(recording: Recording, tx: production::RecordingTx) -> Self {
        Self {
            recording,
            tx: LockTx::Production(tx),
        }
    }

    /// The row as read under the lock, with its metadata and formats.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Set `published`, `publish_updated = true` and `state` = published/unpublished, then commit (releasing
    /// the lock).
    pub async fn set_published(self, published: bool) -> StoreResult<()> {
        match self.tx {
            LockTx::Embedded(tx) => tx.set_published(published).await,
            LockTx::Production(tx) => tx.set_published(published).await,
        }
    }

    /// Mark the recording deleted (as `RecordingStore::mark_recording_deleted`), then commit.
    pub async fn mark_deleted(self) -> StoreResult<()> {
        match self.tx {
            LockTx::Embedded(tx) => tx.mark_deleted().await,
            LockTx::Production(tx) => tx.mark_deleted().await,
        }
    }

    /// The importer's conditional upsert (as `RecordingStore::upsert_recording`, callback link included) inside
    /// the lock's transaction; nothing is visible to others until `commit`. Returns the row as written.
    pub async fn upsert(&mut self, recording: &Recording) -> StoreResult<Recording> {
        let stored = match &mut self.tx {
            LockTx::Embedded(tx) => tx.upsert(recording).await?,
            LockTx::Production(tx) => tx.upsert(recording).await?,
        };
        self.recording = stored.clone();
        Ok(stored)
    }

    /// Commit what was written through the lock and release it.
    pub async fn commit(self) -> StoreResult<()> {
        match self.tx {
            LockTx::Embedded(tx) => tx.commit().await,
            LockTx::Production(tx) => tx.commit().await,
        }
    }

    /// Give the lock up without changing anything.
    pub async fn release(self) {
        match self.tx {
            LockTx::Embedded(tx) => tx.release().await,
            LockTx::Production(tx) => tx.release().await,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lease_holder_ids_are_unique_per_holder() {
        let (a, b) = (super::lease_holder_id(), super::lease_holder_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }
}
