//! `Store`: the back-end chosen once at start-up, implementing every storage trait by delegation.
//!
//! Dispatch is a `match` on a two-variant enum: static, no boxing, and handlers carry no generic parameter.

use std::collections::HashMap;
use std::time::Duration;

use crate::config::BackendChoice;
use crate::domain::{
    AbandonedPlacement, CallbackData, CreateParams, Meeting, MeetingPlacement, MeetingState,
    NewMeeting, NewServer, PlacedMeeting, Recording, RecordingFilter, Server, ServerPatch,
    TagRequest, Tenant, TenantSetting,
};
use crate::storage::production::{ProductionConfig, ProductionStore};
use crate::storage::sqlite::SqliteStore;
use crate::storage::{
    CallbackUrlsClean, CallbackUrlsMark, CreateRead, MeetingStore, MiscStore, NewPlacement,
    RecordingLock, RecordingStore, SelectError, ServerStore, StoreError, StoreResult, TenantStore,
};

/// The storage back-end of this process.
#[derive(Clone)]
pub enum Store {
    /// One SQLite file for everything.
    Embedded(SqliteStore),
    /// Redis (servers, meetings, tenants) plus PostgreSQL (recordings), in the original's layout.
    Production(ProductionStore),
}

impl Store {
    /// Open the back-end the configuration chose (migrations included).
    pub async fn open(choice: &BackendChoice) -> StoreResult<Store> {
        match choice {
            BackendChoice::Embedded { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        StoreError::Backend(format!(
                            "cannot create the data directory {}: {e}",
                            dir.display()
                        ))
                    })?;
                }
                Ok(Store::Embedded(SqliteStore::open(path).await?))
            }
            BackendChoice::Production {
                database_url,
                redis_url,
                namespace,
                redis_pool,
                redis_timeout,
                ..
            } => {
                let config = ProductionConfig {
                    database_url: database_url.clone(),
                    redis_url: redis_url.clone(),
                    namespace: namespace.clone(),
                    pool_size: (*redis_pool).max(2),
                    op_timeout: Duration::from_secs(5),
                    redis_timeout: *redis_timeout,
                };
                Ok(Store::Production(ProductionStore::connect(config).await?))
            }
        }
    }

    /// Let creates of new meetings skip the callback data (`ProductionStore::index_callback_urls`; the embedded
    /// store reads it with the meeting, so has nothing to do). Whether this call indexed.
    pub async fn index_callback_urls(&self, holder: &str) -> StoreResult<bool> {
        match self {
            Store::Embedded(_) => Ok(false),
            Store::Production(s) => s.index_callback_urls(holder).await,
        }
    }

    /// Short name for logs and `/health_check` messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Embedded(_) => "embedded (SQLite)",
            Store::Production(_) => "production (PostgreSQL + Redis)",
        }
    }
}

macro_rules! delegate {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            Store::Embedded(s) => s.$method($($arg),*).await,
            Store::Production(s) => s.$method($($arg),*).await,
        }
    };
}

impl ServerStore for Store {
    async fn list_servers(&self) -> StoreResult<Vec<Server>> {
        delegate!(self.list_servers())
    }
    async fn get_server(&self, id: &str) -> StoreResult<Server> {
        delegate!(self.get_server(id))
    }
    async fn add_server(&self, server: NewServer) -> StoreResult<Server> {
        delegate!(self.add_server(server))
    }
    async fn patch_server(&self, id: &str, patch: ServerPatch) -> StoreResult<Server> {
        delegate!(self.patch_server(id, patch))
    }
    async fn delete_server(&self, id: &str) -> StoreResult<()> {
        delegate!(self.delete_server(id))
    }
    async fn available_servers(&self) -> StoreResult<Vec<Server>> {
        delegate!(self.available_servers())
    }
    async fn select_server(&self, tags: &TagRequest) -> Result<Server, SelectError> {
        delegate!(self.select_server(tags))
    }
    async fn increment_load(&self, id: &str, amount: f64) -> StoreResult<Option<f64>> {
        delegate!(self.increment_load(id, amount))
    }
    fn increment_load_behind(&self, id: &str, amount: f64) {
        match self {
            Store::Embedded(s) => s.increment_load_behind(id, amount),
            Store::Production(s) => s.increment_load_behind(id, amount),
        }
    }
    async fn increment_healthy(&self, id: &str) -> StoreResult<i64> {
        delegate!(self.increment_healthy(id))
    }
    async fn increment_unhealthy(&self, id: &str) -> StoreResult<i64> {
        delegate!(self.increment_unhealthy(id))
    }
    async fn reset_counters(&self, id: &str, healthy: bool, unhealthy: bool) -> StoreResult<()> {
        delegate!(self.reset_counters(id, healthy, unhealthy))
    }
}

impl MeetingStore for Store {
    async fn get_meeting(&self, id: &str) -> StoreResult<Meeting> {
        delegate!(self.get_meeting(id))
    }
    async fn list_meetings(&self) -> StoreResult<Vec<Meeting>> {
        delegate!(self.list_meetings())
    }
    async fn find_or_create_meeting(
        &self,
        meeting: NewMeeting,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        delegate!(self.find_or_create_meeting(meeting, ttl))
    }
    async fn delete_meeting(&self, id: &str) -> StoreResult<bool> {
        delegate!(self.delete_meeting(id))
    }
    async fn meeting_by_voice_bridge(&self, voice_bridge: &str) -> StoreResult<Meeting> {
        delegate!(self.meeting_by_voice_bridge(voice_bridge))
    }
    async fn refresh_meetings(&self, ids: &[String], ttl: Duration) -> StoreResult<()> {
        delegate!(self.refresh_meetings(ids, ttl))
    }
    async fn clean_orphans(&self) -> StoreResult<u64> {
        delegate!(self.clean_orphans())
    }
    async fn claim_meeting(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        delegate!(self.claim_meeting(meeting, token, claim_for, ttl))
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
        delegate!(self.place_meeting(tags, meeting, moderator_pw, token, claim_for, ttl))
    }
    async fn meeting_state(&self, id: &str) -> StoreResult<Option<MeetingState>> {
        delegate!(self.meeting_state(id))
    }
    async fn meeting_with_server(&self, id: &str) -> StoreResult<Option<PlacedMeeting>> {
        delegate!(self.meeting_with_server(id))
    }
    async fn meeting_for_create(
        &self,
        id: &str,
        tenant_id: Option<&str>,
        place: Option<&NewPlacement<'_>>,
    ) -> StoreResult<CreateRead> {
        delegate!(self.meeting_for_create(id, tenant_id, place))
    }
    async fn confirm_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        delegate!(self.confirm_meeting(id, token))
    }
    async fn confirm_meeting_with_params(
        &self,
        id: &str,
        token: &str,
        params: &CreateParams,
        ttl: Duration,
        clean: Option<&CallbackUrlsClean>,
    ) -> StoreResult<bool> {
        delegate!(self.confirm_meeting_with_params(id, token, params, ttl, clean))
    }
    async fn move_meeting(
        &self,
        id: &str,
        token: &str,
        server_id: &str,
        moderator_pw: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        delegate!(self.move_meeting(id, token, server_id, moderator_pw, claim_for))
    }
    async fn release_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        delegate!(self.release_meeting(id, token))
    }
    async fn take_over_meeting(
        &self,
        id: &str,
        from_server: &str,
        token: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        delegate!(self.take_over_meeting(id, from_server, token, claim_for))
    }
    async fn put_create_params(
        &self,
        id: &str,
        params: &CreateParams,
        ttl: Duration,
    ) -> StoreResult<()> {
        delegate!(self.put_create_params(id, params, ttl))
    }
    async fn get_create_params(&self, id: &str) -> StoreResult<Option<CreateParams>> {
        delegate!(self.get_create_params(id))
    }
    async fn record_abandoned(&self, placement: AbandonedPlacement) -> StoreResult<()> {
        delegate!(self.record_abandoned(placement))
    }
    async fn list_abandoned(&self) -> StoreResult<Vec<AbandonedPlacement>> {
        delegate!(self.list_abandoned())
    }
    async fn forget_abandoned(&self, meeting_id: &str, server_id: &str) -> StoreResult<()> {
        delegate!(self.forget_abandoned(meeting_id, server_id))
    }
}

impl TenantStore for Store {
    async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        delegate!(self.list_tenants())
    }
    async fn get_tenant(&self, id: &str) -> StoreResult<Tenant> {
        delegate!(self.get_tenant(id))
    }
    async fn get_tenant_by_name(&self, name: &str) -> StoreResult<Tenant> {
        delegate!(self.get_tenant_by_name(name))
    }
    async fn add_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        delegate!(self.add_tenant(tenant))
    }
    async fn update_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        delegate!(self.update_tenant(tenant))
    }
    async fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        delegate!(self.delete_tenant(id))
    }
    async fn list_tenant_settings(&self, tenant_id: &str) -> StoreResult<Vec<TenantSetting>> {
        delegate!(self.list_tenant_settings(tenant_id))
    }
    async fn put_tenant_setting(&self, setting: TenantSetting) -> StoreResult<TenantSetting> {
        delegate!(self.put_tenant_setting(setting))
    }
    async fn delete_tenant_setting(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        delegate!(self.delete_tenant_setting(tenant_id, id))
    }
}

impl RecordingStore for Store {
    async fn upsert_recording(&self, recording: Recording) -> StoreResult<Recording> {
        delegate!(self.upsert_recording(recording))
    }
    async fn get_recording(&self, record_id: &str) -> StoreResult<Recording> {
        delegate!(self.get_recording(record_id))
    }
    async fn find_recordings(&self, filter: &RecordingFilter) -> StoreResult<Vec<Recording>> {
        delegate!(self.find_recordings(filter))
    }
    async fn set_published(&self, record_id: &str, published: bool) -> StoreResult<()> {
        delegate!(self.set_published(record_id, published))
    }
    async fn set_protected(&self, record_id: &str, protected: bool) -> StoreResult<()> {
        delegate!(self.set_protected(record_id, protected))
    }
    async fn update_metadata(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
    ) -> StoreResult<()> {
        delegate!(self.update_metadata(record_ids, upserts, deletes))
    }
    async fn update_recordings(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
        protect: Option<bool>,
    ) -> StoreResult<()> {
        delegate!(self.update_recordings(record_ids, upserts, deletes, protect))
    }
    async fn lock_recording(&self, record_id: &str) -> StoreResult<RecordingLock> {
        delegate!(self.lock_recording(record_id))
    }
    async fn mark_recording_deleted(&self, record_id: &str) -> StoreResult<()> {
        delegate!(self.mark_recording_deleted(record_id))
    }
    async fn get_callback_data(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<Option<CallbackData>> {
        delegate!(self.get_callback_data(tenant_id, meeting_id))
    }
    async fn put_callback_data(&self, data: CallbackData) -> StoreResult<()> {
        delegate!(self.put_callback_data(data))
    }
    async fn clear_callback_urls(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
        server_id: &str,
        mark: &CallbackUrlsMark,
    ) -> StoreResult<Option<CallbackUrlsClean>> {
        delegate!(self.clear_callback_urls(tenant_id, meeting_id, server_id, mark))
    }
    async fn mark_callback_urls_clean(&self, clean: &CallbackUrlsClean) -> StoreResult<()> {
        delegate!(self.mark_callback_urls_clean(clean))
    }
}

impl MiscStore for Store {
    async fn put_playback_token(
        &self,
        token: &str,
        record_id: &str,
        format: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        delegate!(self.put_playback_token(token, record_id, format, ttl))
    }
    async fn take_playback_token(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        delegate!(self.take_playback_token(token))
    }
    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        delegate!(self.try_lease(name, holder, ttl))
    }
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        delegate!(self.release_lease(name, holder))
    }
    async fn missing_meetings(&self) -> StoreResult<HashMap<String, i64>> {
        delegate!(self.missing_meetings())
    }
    async fn update_missing_meetings(
        &self,
        mark: &[(String, i64)],
        clear: &[String],
    ) -> StoreResult<()> {
        delegate!(self.update_missing_meetings(mark, clear))
    }
    async fn health_check(&self) -> StoreResult<()> {
        delegate!(self.health_check())
    }
}
