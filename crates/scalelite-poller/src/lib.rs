//! `scalelite-poller`: keeps the picture of the pool true (operations.md section 2, with DECISIONS.md's fixes).
//!
//! One cycle (`poll_once`) asks every server for its meetings with ONE `getMeetings` call, concurrently and bounded,
//! each call bounded by the BBB timeouts, so one dead server never delays the others beyond its own timeout. From
//! the answers it updates health (the healthy/unhealthy thresholds, panicking a server that goes offline), load,
//! statistics and version, and reconciles meetings: a meeting no server reports any more is forgotten after two
//! consecutive cycles (so a create racing a poll is never reaped), meetings still running get their TTL refreshed,
//! orphans are cleaned. `run` repeats cycles while holding a lease in the store, so only one poller is active.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scalelite_core::bbb::params::Params;
use scalelite_core::bbb::xml::{self, MeetingSummary};
use scalelite_core::bbb_client::BbbClient;
use scalelite_core::config;
use scalelite_core::domain::{Meeting, Server, ServerPatch, ServerState, ServerStats};
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, MiscStore, ServerStore, StoreResult};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Name of the lease that elects the active poller.
pub const LEASE_NAME: &str = "poller";

/// What a poll cycle needs from the configuration.
#[derive(Clone, Debug)]
pub struct PollSettings {
    /// `SERVER_HEALTHY_THRESHOLD`.
    pub healthy_threshold: i64,
    /// `SERVER_UNHEALTHY_THRESHOLD`.
    pub unhealthy_threshold: i64,
    /// `LOAD_MIN_USER_COUNT`.
    pub load_min_user_count: i64,
    /// `LOAD_JOIN_BUFFER_TIME`.
    pub load_join_buffer: Duration,
    /// `DEFAULT_MEETING_TTL`: refreshed for meetings still running.
    pub meeting_ttl: Duration,
    /// Servers polled at once (`POLLER_THREADS` − 1 in the original; at least 1).
    pub concurrency: usize,
    /// `POLL_INTERVAL`: pause between cycles.
    pub interval: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            healthy_threshold: 1,
            unhealthy_threshold: 2,
            load_min_user_count: 15,
            load_join_buffer: Duration::from_secs(15 * 60),
            meeting_ttl: Duration::from_secs(86_400),
            concurrency: 64,
            interval: Duration::from_secs(60),
        }
    }
}

impl PollSettings {
    /// Resolve the settings from the parsed configuration.
    pub fn from_config(poller: &config::PollerArgs, meetings: &config::MeetingArgs) -> Self {
        Self {
            healthy_threshold: i64::from(poller.server_healthy_threshold),
            unhealthy_threshold: i64::from(poller.server_unhealthy_threshold),
            load_min_user_count: i64::from(poller.load_min_user_count),
            load_join_buffer: poller.load_join_buffer_time,
            meeting_ttl: meetings.default_meeting_ttl,
            // The original polls with POLLER_THREADS - 1 threads per task; we poll with tasks, not threads, so a
            // larger bound costs nothing and keeps a cycle short with many slow servers.
            concurrency: (poller.poller_threads.saturating_sub(1).max(1) as usize).max(64),
            interval: poller.poll_interval,
        }
    }
}

/// A name for this process in the poller lease: host name, process id and a random part.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "scalelite".into());
    format!(
        "{host}:{}:{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The outcome of one cycle, for logs, metrics and tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CycleReport {
    pub servers_polled: usize,
    pub servers_online: usize,
    pub servers_offline: usize,
    pub servers_failed: Vec<String>,
    pub servers_panicked: Vec<String>,
    pub meetings_removed: Vec<String>,
    pub meetings_refreshed: usize,
    pub orphans_cleaned: u64,
}

/// A poller: the store, the BBB client, the settings, and what it remembers between cycles (meetings seen missing).
#[derive(Clone)]
pub struct Poller {
    store: Store,
    bbb: BbbClient,
    settings: Arc<PollSettings>,
    missing_once: Arc<Mutex<HashSet<String>>>,
}

/// What polling one server found.
struct ServerOutcome {
    server_id: String,
    /// Meeting ids the server reported, when the poll succeeded.
    reported: Option<HashSet<String>>,
    online_after: bool,
    panicked: bool,
}

impl Poller {
    pub fn new(store: Store, bbb: BbbClient, settings: PollSettings) -> Self {
        Self {
            store,
            bbb,
            settings: Arc::new(settings),
            missing_once: Arc::default(),
        }
    }

    /// One full cycle: servers, then meetings.
    pub async fn poll_once(&self) -> StoreResult<CycleReport> {
        let servers = self.store.list_servers().await?;
        let meetings_before = self.store.list_meetings().await?;
        let semaphore = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for server in servers {
            let poller = self.clone();
            let semaphore = semaphore.clone();
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                poller.poll_server(server).await
            });
        }
        let mut report = CycleReport::default();
        let mut reported_by: HashMap<String, HashSet<String>> = HashMap::new();
        while let Some(joined) = tasks.join_next().await {
            let outcome = match joined {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "poll: storage error while updating a server");
                    continue;
                }
                Err(e) => {
                    tracing::error!(error = %e, "poll: a server task failed");
                    continue;
                }
            };
            report.servers_polled += 1;
            if outcome.online_after {
                report.servers_online += 1;
            } else {
                report.servers_offline += 1;
            }
            if outcome.panicked {
                report.servers_panicked.push(outcome.server_id.clone());
            }
            match outcome.reported {
                Some(ids) => {
                    reported_by.insert(outcome.server_id, ids);
                }
                None => report.servers_failed.push(outcome.server_id),
            }
        }
        self.reconcile_meetings(meetings_before, &reported_by, &mut report)
            .await?;
        report.orphans_cleaned = self.store.clean_orphans().await?;
        report.servers_failed.sort();
        report.servers_panicked.sort();
        report.meetings_removed.sort();
        Ok(report)
    }

    /// Poll one server and write what it says (operations.md 2.3).
    async fn poll_server(&self, server: Server) -> StoreResult<ServerOutcome> {
        let answer = self
            .bbb
            .call(&server, "getMeetings", &Params::default(), None, false)
            .await;
        match answer {
            Ok(response) => {
                let meetings = xml::meeting_summaries(&response.root);
                self.on_success(server, &meetings).await
            }
            Err(error) => {
                tracing::warn!(server.id = %server.id, error = %error, "Failed to get server status");
                self.on_failure(server).await
            }
        }
    }

    async fn on_success(
        &self,
        server: Server,
        meetings: &[MeetingSummary],
    ) -> StoreResult<ServerOutcome> {
        let store = &self.store;
        store.reset_counters(&server.id, false, true).await?;
        let mut patch = ServerPatch::default();
        let mut came_online = false;
        if !server.online {
            let healthy = store.increment_healthy(&server.id).await?;
            if healthy < self.settings.healthy_threshold {
                return Ok(ServerOutcome {
                    server_id: server.id,
                    reported: Some(reported_ids(meetings)),
                    online_after: false,
                    panicked: false,
                });
            }
            tracing::info!(server.id = %server.id, "Server is healthy. Bringing back online...");
            store.reset_counters(&server.id, true, true).await?;
            patch.online = Some(true);
            came_online = true;
        }
        let load = compute_load(meetings, &self.settings, now_ms()) * server.load_multiplier;
        if server.state != ServerState::Disabled {
            patch.load = Some(Some(load));
        }
        if server.state == ServerState::Cordoned && load == 0.0 {
            tracing::info!(server.id = %server.id, "cordoned server has no load any more: disabling it");
            patch.state = Some(ServerState::Disabled);
            patch.load = Some(None);
        }
        patch.stats = Some(compute_stats(meetings));
        if came_online || server.bbb_version.is_none() {
            patch.bbb_version = self.fetch_version(&server).await;
        }
        let id = server.id.clone();
        store.patch_server(&id, patch).await?;
        tracing::info!(server.id = %id, load, "Server online");
        Ok(ServerOutcome {
            server_id: id,
            reported: Some(reported_ids(meetings)),
            online_after: true,
            panicked: false,
        })
    }

    async fn on_failure(&self, server: Server) -> StoreResult<ServerOutcome> {
        let store = &self.store;
        store.reset_counters(&server.id, true, false).await?;
        let offline = |panicked| ServerOutcome {
            server_id: server.id.clone(),
            reported: None,
            online_after: false,
            panicked,
        };
        if !server.online {
            return Ok(offline(false));
        }
        let unhealthy = store.increment_unhealthy(&server.id).await?;
        if unhealthy < self.settings.unhealthy_threshold {
            return Ok(ServerOutcome {
                online_after: true,
                ..offline(false)
            });
        }
        tracing::warn!(server.id = %server.id, "Server is unhealthy. Panicking and setting offline...");
        self.panic_server(&server).await?;
        store.reset_counters(&server.id, true, true).await?;
        let patch = ServerPatch {
            online: Some(false),
            load: Some(None),
            stats: Some(ServerStats::default()),
            ..ServerPatch::default()
        };
        store.patch_server(&server.id, patch).await?;
        Ok(offline(true))
    }

    /// Forget every meeting of `server` and ask the server to end them (best effort, in the background: the server
    /// is most likely unreachable, and the cycle must not wait for it).
    async fn panic_server(&self, server: &Server) -> StoreResult<Vec<Meeting>> {
        let meetings: Vec<Meeting> = self
            .store
            .list_meetings()
            .await?
            .into_iter()
            .filter(|m| m.server_id == server.id)
            .collect();
        for meeting in &meetings {
            self.store.delete_meeting(&meeting.id).await?;
        }
        let bbb = self.bbb.clone();
        let server = server.clone();
        let to_end = meetings.clone();
        tokio::spawn(async move {
            for meeting in to_end {
                let mut params = Params::default();
                params.set("meetingID", &meeting.id);
                params.set("password", &meeting.moderator_pw);
                if let Err(e) = bbb.call(&server, "end", &params, None, true).await {
                    tracing::warn!(meeting.id = %meeting.id, error = %e, "Could not end meeting");
                }
            }
        });
        Ok(meetings)
    }

    async fn fetch_version(&self, server: &Server) -> Option<String> {
        match self
            .bbb
            .call(server, "", &Params::default(), None, false)
            .await
        {
            Ok(response) => Some(xml::bbb_version(&response.root).unwrap_or_default()),
            Err(e) => {
                tracing::debug!(server.id = %server.id, error = %e, "could not read the BBB version");
                None
            }
        }
    }

    /// Meetings the servers reported get their TTL refreshed; a stored meeting its (successfully polled) server did
    /// not report in two consecutive cycles is forgotten.
    async fn reconcile_meetings(
        &self,
        meetings_before: Vec<Meeting>,
        reported_by: &HashMap<String, HashSet<String>>,
        report: &mut CycleReport,
    ) -> StoreResult<()> {
        let mut refresh = Vec::new();
        let mut missing_now = HashSet::new();
        let mut missing_once = self.missing_once.lock().await;
        for meeting in meetings_before {
            let Some(reported) = reported_by.get(&meeting.server_id) else {
                continue;
            };
            if reported.contains(&meeting.id) {
                refresh.push(meeting.id);
            } else if missing_once.contains(&meeting.id) {
                if self.store.delete_meeting(&meeting.id).await? {
                    tracing::info!(meeting.id = %meeting.id, server.id = %meeting.server_id, "Meeting has ended");
                    report.meetings_removed.push(meeting.id);
                }
            } else {
                missing_now.insert(meeting.id);
            }
        }
        *missing_once = missing_now;
        drop(missing_once);
        if !refresh.is_empty() {
            self.store
                .refresh_meetings(&refresh, self.settings.meeting_ttl)
                .await?;
        }
        report.meetings_refreshed = refresh.len();
        Ok(())
    }

    /// Cycles until `shutdown`, each after `interval`, only while holding the lease `poller` (renewed every cycle,
    /// lasting two intervals, so a standby takes over within about two intervals when the active one dies).
    pub async fn run(&self, holder: &str, shutdown: CancellationToken) {
        let lease_ttl = (self.settings.interval * 2).max(Duration::from_secs(10));
        loop {
            match self.store.try_lease(LEASE_NAME, holder, lease_ttl).await {
                Ok(true) => {
                    // A cycle is never abandoned half-way: shutdown is only looked at between cycles.
                    match self.poll_once().await {
                        Ok(report) => tracing::info!(
                            servers = report.servers_polled,
                            online = report.servers_online,
                            offline = report.servers_offline,
                            meetings_removed = report.meetings_removed.len(),
                            "poll cycle done"
                        ),
                        Err(e) => tracing::warn!(error = %e, "poll cycle failed"),
                    }
                }
                Ok(false) => tracing::debug!("another poller holds the lease; standing by"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not reach the store for the poller lease")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.settings.interval) => {}
            }
        }
        if let Err(e) = self.store.release_lease(LEASE_NAME, holder).await {
            tracing::warn!(error = %e, "could not release the poller lease");
        }
        tracing::info!("Exiting poller on signal");
    }
}

fn reported_ids(meetings: &[MeetingSummary]) -> HashSet<String> {
    meetings.iter().map(|m| m.meeting_id.clone()).collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Load before the multiplier: each participant of a non-breakout meeting counts once (the original counts
/// moderators twice); a meeting younger than the join buffer counts at least `load_min_user_count`.
pub fn compute_load(meetings: &[MeetingSummary], settings: &PollSettings, now_ms: i64) -> f64 {
    let buffer_ms = settings.load_join_buffer.as_millis() as i64;
    meetings
        .iter()
        .filter(|m| !m.is_breakout)
        .map(|m| {
            let attendees = m.participant_count.max(0);
            let young = m.create_time_ms > now_ms - buffer_ms;
            if young {
                attendees.max(settings.load_min_user_count)
            } else {
                attendees
            }
        })
        .sum::<i64>() as f64
}

/// Statistics over every meeting, breakouts included.
pub fn compute_stats(meetings: &[MeetingSummary]) -> ServerStats {
    ServerStats {
        meetings: meetings.len() as i64,
        users: meetings.iter().map(|m| m.participant_count).sum(),
        largest_meeting: meetings
            .iter()
            .map(|m| m.participant_count)
            .max()
            .unwrap_or(0),
        videos: meetings.iter().map(|m| m.video_count).sum(),
    }
}

#[cfg(test)]
mod tests;
