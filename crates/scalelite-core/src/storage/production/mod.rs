//! Production back-end: Redis (servers, meetings, tenants, tokens, leases) and PostgreSQL (recordings, callback
//! data), both in the exact layout of the original Scalelite, so either implementation can run on what the other
//! wrote.
//!
//! - `keys`: every Redis key name (namespace prefix as redis-namespace writes it).
//! - `redis`: the Redis operations; the atomic ones are Lua scripts in `production/lua/`.
//! - `postgres`: the recording tables; migrations in `migrations/postgres/` adopt a database the original created.
//! - `callback_yaml`: the Psych YAML of `callback_data.callback_attributes`.

mod bumps;
mod callback_yaml;
mod confirms;
mod drain;
mod keys;
mod postgres;
mod redis;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::{
    AbandonedPlacement, CallbackData, CreateParams, Meeting, MeetingPlacement, MeetingState,
    NewMeeting, NewServer, PlacedMeeting, Recording, RecordingFilter, Server, ServerPatch,
    TagRequest, Tenant, TenantSetting,
};
use crate::storage::{
    CallbackUrlsClean, CallbackUrlsMark, CreateRead, MeetingStore, MiscStore, NewPlacement,
    RecordingLock, RecordingStore, SelectError, ServerStore, StoreError, StoreResult, TenantStore,
    has_callback_urls, without_callback_urls,
};

pub use keys::Keys;
pub(crate) use postgres::RecordingTx;

/// How to reach the two production back-ends.
#[derive(Clone)]
pub struct ProductionConfig {
    /// `DATABASE_URL` (`postgres://…`).
    pub database_url: String,
    /// `REDIS_URL` (`redis://…`).
    pub redis_url: String,
    /// `REDIS_NAMESPACE`: prefix of every Redis key (`scalelite` in production).
    pub namespace: String,
    /// Maximum number of PostgreSQL connections.
    pub pool_size: u32,
    /// Upper bound of one PostgreSQL operation (connecting included); an unreachable database gives
    /// `StoreError::Backend` after about this long.
    pub op_timeout: Duration,
    /// Upper bound of one Redis operation (`REDIS_TIMEOUT`, connecting included); after it the connection is
    /// dialled again.
    pub redis_timeout: Duration,
}

impl fmt::Debug for ProductionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProductionConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &redact_url(&self.redis_url))
            .field("namespace", &self.namespace)
            .field("pool_size", &self.pool_size)
            .field("op_timeout", &self.op_timeout)
            .field("redis_timeout", &self.redis_timeout)
            .finish()
    }
}

/// A URL with its password replaced, for logs.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("<redacted>"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}

/// The production store (Redis + PostgreSQL). Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct ProductionStore {
    redis: redis::RedisStore,
    pg: postgres::PgStore,
    bumps: Arc<bumps::LoadBumps>,
    confirms: Arc<confirms::Confirms>,
}

impl fmt::Debug for ProductionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProductionStore")
            .field("namespace", self.redis.keys())
            .finish_non_exhaustive()
    }
}

impl ProductionStore {
    /// Connect to Redis (within `redis_timeout`) and PostgreSQL (within `op_timeout`) and run the PostgreSQL
    /// migrations.
    pub async fn connect(config: ProductionConfig) -> StoreResult<Self> {
        let redis =
            redis::RedisStore::connect(&config.redis_url, &config.namespace, config.redis_timeout)
                .await?;
        let pg =
            postgres::PgStore::connect(&config.database_url, config.pool_size, config.op_timeout)
                .await?;
        let bumps = Arc::new(bumps::LoadBumps::new(redis.clone()));
        let confirms = Arc::new(confirms::Confirms::new(redis.clone()));
        Ok(Self {
            redis,
            pg,
            bumps,
            confirms,
        })
    }

    /// The Redis key builder of this store's namespace.
    pub fn keys(&self) -> &Keys {
        self.redis.keys()
    }

    /// Give every callback data row holding URLs its generation in Redis (`Keys::callback_urls`), then mark the
    /// callback data indexed (`Keys::callback_urls_indexed`): from then on a create of a meeting without a
    /// generation knows there is no URL to clear, without reading PostgreSQL. Rows written meanwhile count their
    /// own generation (`put_callback_data`). Nothing to do when indexed already, or while another process indexes
    /// (lease `callback_urls_index`, held as `holder`). An index recorded by a Redis that has restarted since is
    /// dropped first and made again: the restart may have loaded a snapshot older than some generations. Whether
    /// this call indexed.
    pub async fn index_callback_urls(&self, holder: &str) -> StoreResult<bool> {
        let (indexed, run_id) = self.redis.callback_index_state().await?;
        match indexed {
            Some(indexed) if indexed == run_id => return Ok(false),
            Some(stale) => {
                tracing::warn!(
                    "Redis restarted since the callback data was indexed; creates read it until it is indexed again"
                );
                self.redis.drop_callback_urls_index(&stale).await?;
            }
            None => {}
        }
        if !self
            .redis
            .try_lease(CALLBACK_INDEX_LEASE, holder, CALLBACK_INDEX_LEASE_TTL)
            .await?
        {
            return Ok(false);
        }
        let indexed = self.index_callback_rows(&run_id).await;
        if let Err(e) = self.redis.release_lease(CALLBACK_INDEX_LEASE, holder).await {
            tracing::warn!(error = %e, "could not give up the callback data indexing lease; it lapses by itself");
        }
        indexed.map(|rows| {
            tracing::info!(
                rows,
                "callback data indexed: creates of new meetings skip PostgreSQL"
            );
            true
        })
    }

    /// `index_callback_urls`' work, page by page, for the Redis of run id `run_id`; how many rows hold URLs.
    async fn index_callback_rows(&self, run_id: &str) -> StoreResult<usize> {
        let (mut after, mut rows) = (i64::MIN, 0);
        loop {
            let (last, holders) = self
                .pg
                .callback_urls_after(after, CALLBACK_INDEX_PAGE)
                .await?;
            if !holders.is_empty() {
                self.redis.bump_callback_urls_of(&holders).await?;
                rows += holders.len();
            }
            match last {
                Some(last) => after = last,
                None => break,
            }
        }
        // Should Redis have restarted meanwhile, `run_id` is already stale and the next call indexes again.
        self.redis.set_callback_urls_indexed(run_id).await?;
        Ok(rows)
    }
}

/// The lease one process at a time indexes the callback data under (`ProductionStore::index_callback_urls`), and
/// how long it holds it at most (the work is a read of each row holding URLs).
const CALLBACK_INDEX_LEASE: &str = "callback_urls_index";
const CALLBACK_INDEX_LEASE_TTL: Duration = Duration::from_secs(600);
/// Rows per page of that indexing.
const CALLBACK_INDEX_PAGE: i64 = 1000;

impl ServerStore for ProductionStore {
    async fn list_servers(&self) -> StoreResult<Vec<Server>> {
        self.redis.list_servers().await
    }

    async fn get_server(&self, id: &str) -> StoreResult<Server> {
        self.redis.get_server(id).await
    }

    async fn add_server(&self, server: NewServer) -> StoreResult<Server> {
        self.redis.add_server(server).await
    }

    async fn patch_server(&self, id: &str, patch: ServerPatch) -> StoreResult<Server> {
        self.redis.patch_server(id, patch).await
    }

    async fn delete_server(&self, id: &str) -> StoreResult<()> {
        self.redis.delete_server(id).await
    }

    async fn available_servers(&self) -> StoreResult<Vec<Server>> {
        self.redis.available_servers().await
    }

    async fn select_server(&self, tags: &TagRequest) -> Result<Server, SelectError> {
        self.redis.select_server(tags).await
    }

    async fn increment_load(&self, id: &str, amount: f64) -> StoreResult<Option<f64>> {
        self.redis.increment_load(id, amount).await
    }

    /// Summed per server with the bumps still waiting, and written by one task at a time (`bumps`).
    fn increment_load_behind(&self, id: &str, amount: f64) {
        self.bumps.add(id, amount);
    }

    async fn increment_healthy(&self, id: &str) -> StoreResult<i64> {
        self.redis.increment_healthy(id).await
    }

    async fn increment_unhealthy(&self, id: &str) -> StoreResult<i64> {
        self.redis.increment_unhealthy(id).await
    }

    async fn reset_counters(&self, id: &str, healthy: bool, unhealthy: bool) -> StoreResult<()> {
        self.redis.reset_counters(id, healthy, unhealthy).await
    }
}

impl MeetingStore for ProductionStore {
    async fn get_meeting(&self, id: &str) -> StoreResult<Meeting> {
        self.redis.get_meeting(id).await
    }

    async fn list_meetings(&self) -> StoreResult<Vec<Meeting>> {
        self.redis.list_meetings().await
    }

    async fn find_or_create_meeting(
        &self,
        meeting: NewMeeting,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        self.redis.find_or_create_meeting(meeting, ttl).await
    }

    async fn delete_meeting(&self, id: &str) -> StoreResult<bool> {
        self.redis.delete_meeting(id).await
    }

    async fn meeting_by_voice_bridge(&self, voice_bridge: &str) -> StoreResult<Meeting> {
        self.redis.meeting_by_voice_bridge(voice_bridge).await
    }

    async fn refresh_meetings(&self, ids: &[String], ttl: Duration) -> StoreResult<()> {
        self.redis.refresh_meetings(ids, ttl).await
    }

    async fn clean_orphans(&self) -> StoreResult<u64> {
        self.redis.clean_orphans().await
    }

    async fn claim_meeting(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        self.redis
            .claim_meeting(meeting, token, claim_for, ttl)
            .await
    }

    async fn place_meeting<P>(
        &self,
        tags: &TagRequest,
        meeting: NewMeeting,
        moderator_pw: P,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> Result<(Server, StoreResult<MeetingPlacement>), SelectError>
    where
        P: FnOnce(&Server) -> String + Send + 'static,
    {
        // Two scripts (each atomic in Redis): pick and bump, then claim. `meeting_for_create` does both in one.
        let server = self.redis.select_server(tags).await?;
        let meeting = NewMeeting {
            server_id: server.id.clone(),
            moderator_pw: moderator_pw(&server),
            ..meeting
        };
        let placement = self
            .redis
            .claim_meeting(meeting, token, claim_for, ttl)
            .await;
        // A bump whose claim did not create the record is given back.
        if !matches!(placement, Ok(MeetingPlacement::Created(_))) {
            if let Err(e) = self
                .redis
                .increment_load(&server.id, -server.load_multiplier)
                .await
            {
                return Ok((server, Err(e)));
            }
        }
        Ok((server, placement))
    }

    async fn meeting_state(&self, id: &str) -> StoreResult<Option<MeetingState>> {
        self.redis.meeting_state(id).await
    }

    async fn meeting_with_server(&self, id: &str) -> StoreResult<Option<PlacedMeeting>> {
        self.redis
            .meeting_with_server(id, None)
            .await
            .map(|read| read.placed)
    }

    async fn meeting_for_create(
        &self,
        id: &str,
        tenant_id: Option<&str>,
        place: Option<&NewPlacement<'_>>,
    ) -> StoreResult<CreateRead> {
        let read = self
            .redis
            .meeting_with_server(id, Some((tenant_id, place)))
            .await?;
        Ok(CreateRead {
            placed: read.placed,
            mark: read.mark.unwrap_or_default(),
            placed_new: read.placed_new,
        })
    }

    async fn confirm_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        self.redis.confirm_meeting(id, token).await
    }

    async fn confirm_meeting_with_params(
        &self,
        id: &str,
        token: &str,
        params: &CreateParams,
        ttl: Duration,
        clean: Option<&CallbackUrlsClean>,
    ) -> StoreResult<bool> {
        let params = serde_json::to_string(params)
            .map_err(|e| StoreError::Backend(format!("create params: {e}")))?;
        self.confirms
            .confirm(redis::PlacementConfirmation {
                id: id.to_owned(),
                token: token.to_owned(),
                params,
                ttl,
                clean: clean.cloned(),
            })
            .await
    }

    async fn move_meeting(
        &self,
        id: &str,
        token: &str,
        server_id: &str,
        moderator_pw: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        self.redis
            .move_meeting(id, token, server_id, moderator_pw, claim_for)
            .await
    }

    async fn release_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        self.redis.release_meeting(id, token).await
    }

    async fn take_over_meeting(
        &self,
        id: &str,
        from_server: &str,
        token: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        self.redis
            .take_over_meeting(id, from_server, token, claim_for)
            .await
    }

    async fn put_create_params(
        &self,
        id: &str,
        params: &CreateParams,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.redis.put_create_params(id, params, ttl).await
    }

    async fn get_create_params(&self, id: &str) -> StoreResult<Option<CreateParams>> {
        self.redis.get_create_params(id).await
    }

    async fn record_abandoned(&self, placement: AbandonedPlacement) -> StoreResult<()> {
        self.redis.record_abandoned(placement).await
    }

    async fn list_abandoned(&self) -> StoreResult<Vec<AbandonedPlacement>> {
        self.redis.list_abandoned().await
    }

    async fn forget_abandoned(&self, meeting_id: &str, server_id: &str) -> StoreResult<()> {
        self.redis.forget_abandoned(meeting_id, server_id).await
    }
}

impl TenantStore for ProductionStore {
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        self.redis.list_tenants().await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Tenant> {
        self.redis.get_tenant(id).await
    }

    async fn get_tenant_by_name(&self, name: &str) -> StoreResult<Tenant> {
        self.redis.get_tenant_by_name(name).await
    }

    async fn add_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        self.redis.add_tenant(tenant).await
    }

    async fn update_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        self.redis.update_tenant(tenant).await
    }

    async fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        self.redis.delete_tenant(id).await
    }

    async fn list_tenant_settings(&self, tenant_id: &str) -> StoreResult<Vec<TenantSetting>> {
        self.redis.list_tenant_settings(tenant_id).await
    }

    async fn put_tenant_setting(&self, setting: TenantSetting) -> StoreResult<TenantSetting> {
        self.redis.put_tenant_setting(setting).await
    }

    async fn delete_tenant_setting(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        self.redis.delete_tenant_setting(tenant_id, id).await
    }
}

impl RecordingStore for ProductionStore {
    async fn upsert_recording(&self, recording: Recording) -> StoreResult<Recording> {
        self.pg.upsert_recording(recording).await
    }

    async fn get_recording(&self, record_id: &str) -> StoreResult<Recording> {
        self.pg.get_recording(record_id).await
    }

    async fn find_recordings(&self, filter: &RecordingFilter) -> StoreResult<Vec<Recording>> {
        self.pg.find_recordings(filter).await
    }

    async fn set_published(&self, record_id: &str, published: bool) -> StoreResult<()> {
        self.pg.set_published(record_id, published).await
    }

    async fn set_protected(&self, record_id: &str, protected: bool) -> StoreResult<()> {
        self.pg.set_protected(record_id, protected).await
    }

    async fn update_metadata(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
    ) -> StoreResult<()> {
        self.pg.update_metadata(record_ids, upserts, deletes).await
    }

    async fn update_recordings(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
        protect: Option<bool>,
    ) -> StoreResult<()> {
        self.pg
            .update_recordings(record_ids, upserts, deletes, protect)
            .await
    }

    async fn lock_recording(&self, record_id: &str) -> StoreResult<RecordingLock> {
        let (recording, tx) = self.pg.lock_recording(record_id).await?;
        Ok(RecordingLock::production(recording, tx))
    }

    async fn mark_recording_deleted(&self, record_id: &str) -> StoreResult<()> {
        self.pg.mark_recording_deleted(record_id).await
    }

    async fn get_callback_data(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<Option<CallbackData>> {
        self.pg.get_callback_data(tenant_id, meeting_id).await
    }

    async fn put_callback_data(&self, data: CallbackData) -> StoreResult<()> {
        let (tenant_id, meeting_id) = (data.tenant_id.clone(), data.meeting_id.clone());
        // Before the write, so that URLs in PostgreSQL always have a generation (a create of a meeting without one
        // skips PostgreSQL once the data is indexed), even when this process stops right after writing them.
        if has_callback_urls(&data) {
            self.redis
                .bump_callback_urls(tenant_id.as_deref(), &meeting_id)
                .await?;
        }
        self.pg.put_callback_data(data).await?;
        // After the write: a create that looked at PostgreSQL before it cannot mark the data free of URLs.
        self.redis
            .bump_callback_urls(tenant_id.as_deref(), &meeting_id)
            .await
    }

    /// Every create without callback URLs needs this, and a PostgreSQL read per create was half the cost of a
    /// create of an existing meeting: a mark in Redis (`Keys::callback_urls`) tells when the data is known to
    /// hold no URL, so PostgreSQL is read once per meeting (and after each write of URLs) instead; once the data
    /// is indexed (`index_callback_urls`), a meeting whose mark counts no write of URLs is not read at all.
    async fn clear_callback_urls(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
        server_id: &str,
        mark: &CallbackUrlsMark,
    ) -> StoreResult<Option<CallbackUrlsClean>> {
        let read;
        let mark = match mark.generation {
            Some(_) => mark,
            None => {
                read = self.redis.callback_urls_mark(tenant_id, meeting_id).await?;
                &read
            }
        };
        if mark.clean {
            return Ok(None);
        }
        let stale = self
            .pg
            .get_callback_data(tenant_id, meeting_id)
            .await?
            .is_some_and(|data| has_callback_urls(&data));
        if stale {
            // Not through `put_callback_data`: clearing is no write of URLs, and the mark below may follow.
            self.pg
                .put_callback_data(without_callback_urls(tenant_id, meeting_id, server_id))
                .await?;
        }
        Ok(Some(CallbackUrlsClean {
            meeting_id: meeting_id.to_owned(),
            tenant_id: tenant_id.map(str::to_owned),
            generation: mark.generation.clone().unwrap_or_default(),
        }))
    }

    async fn mark_callback_urls_clean(&self, clean: &CallbackUrlsClean) -> StoreResult<()> {
        self.redis.mark_callback_urls_clean(clean).await
    }
}

impl MiscStore for ProductionStore {
    async fn put_playback_token(
        &self,
        token: &str,
        record_id: &str,
        format: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.redis
            .put_playback_token(token, record_id, format, ttl)
            .await
    }

    async fn take_playback_token(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        self.redis.take_playback_token(token).await
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        self.redis.try_lease(name, holder, ttl).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        self.redis.release_lease(name, holder).await
    }

    async fn missing_meetings(&self) -> StoreResult<HashMap<String, i64>> {
        self.redis.missing_meetings().await
    }

    async fn update_missing_meetings(
        &self,
        mark: &[(String, i64)],
        clear: &[String],
    ) -> StoreResult<()> {
        self.redis.update_missing_meetings(mark, clear).await
    }

    async fn health_check(&self) -> StoreResult<()> {
        let (redis, pg) = tokio::join!(self.redis.health_check(), self.pg.health_check());
        let down: Vec<String> = [("redis", redis), ("postgresql", pg)]
            .into_iter()
            .filter_map(|(part, result)| {
                result.err().map(|e| match e {
                    StoreError::Backend(message) => format!("{part} down: {message}"),
                    other => format!("{part} down: {other}"),
                })
            })
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Backend(down.join("; ")))
        }
    }
}
