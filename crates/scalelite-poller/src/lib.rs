//! `scalelite-poller`: keeps the picture of the pool true (`docs/compatibility.md#poller`).
//!
//! # One cycle (`Poller::poll_once`)
//!
//! 1. Read every server and every meeting from the store.
//! 2. Ask every server (enabled, cordoned and disabled alike) for its meetings with ONE `getMeetings` call,
//!    concurrently (at most `PollSettings::concurrency` at once, and as many again for the servers that are
//!    offline or failed their last poll, so known-dead servers never take the healthy ones' turns). Each server's
//!    calls are bounded by `PollSettings::server_timeout` (`POLLER_WAIT_TIMEOUT`) on top of the BBB client's own
//!    connect/response timeouts, so one slow or dead server never holds the cycle longer than its own timeout. A
//!    cycle therefore takes about one timeout plus the time to poll the answering servers. A call still unanswered
//!    after an eighth of the timeout gives its turn to the next server and waits out its timeout without one, so
//!    servers that hang without being known as dead yet (a first cycle), or more dead servers than `concurrency`,
//!    do not cost a timeout per wave either: the concurrency bounds the calls being answered, not the hanging ones.
//!    The BBB version (index call) is read in the same step when the server is new, offline, or every
//!    `version_refresh_cycles` cycles (always in a poller's first cycle, so `poll:all` refreshes it as the original's).
//! 3. From each answer update the server, as the original's `poll:servers` does: a success resets the unhealthy counter
//!    and, for an offline server, counts towards `SERVER_HEALTHY_THRESHOLD` before it is online again; a failure resets
//!    the healthy counter and, for an online server, counts towards `SERVER_UNHEALTHY_THRESHOLD`. Load =
//!    `load::compute_load` × `load_multiplier` (each participant once: `docs/compatibility.md#poller-load`), not
//!    written for a disabled server; a cordoned server without load becomes disabled; statistics and version are
//!    written.
//! 4. A server that went offline is *panicked*: it is first marked offline with no load (so the API places nothing
//!    more on it), then its meetings are forgotten and an `end` is sent for each, in the background with the reduced
//!    timeouts (the server is most likely unreachable, and the cycle must not wait for it). With
//!    `MEETING_FAILOVER` its meetings are kept instead (and no `end` is sent): the next join of each creates it
//!    again on another server; a meeting nobody joins expires with its TTL, or is forgotten as missing once the
//!    server is back and no longer reports it. Likewise, with `MEETING_FAILOVER` a meeting of a *disabled* server
//!    (`servers:panic` ends them there but keeps their records) is never forgotten as missing: its next join
//!    moves it, or its TTL reaps it.
//! 5. Reconcile meetings with what the servers reported. A reported meeting gets its TTL refreshed
//!    (`DEFAULT_MEETING_TTL`), so the TTL only reaps what nobody reports. A stored meeting that its
//!    successfully polled server did not report (or whose server was removed from the pool) is *missing*. The
//!    first cycle to find it missing marks it in the store with the time that cycle read the meetings; a later
//!    cycle that finds it missing again forgets it when the mark is at least `ended_grace` old (by default the BBB
//!    client's connect + response timeout, the longest a `create` can still be on its way to the server) and at
//!    most [`PollSettings::mark_window`] old (an older mark says nothing about the meeting now: it may have been
//!    created again since, so it is replaced by a fresh one). A cycle that sees the meeting reported, or cannot
//!    poll its server, removes the mark. So a meeting created between two polls, or whose `create` is still in
//!    flight, is never reaped, even with a very short `POLL_INTERVAL`. The marks live in the store, not in the
//!    process: the daemon, a standby that takes over and one-off cycles (`scalelite-cli poll:all`, `--once`) all
//!    continue the same count, so two one-off runs at least `ended_grace` apart forget an ended meeting exactly as
//!    two daemon cycles do. (Processes sharing a store must share a clock, within much less than `ended_grace`.)
//!    A meeting whose `create` is still in flight (a live placement claim) is never forgotten.
//! 6. End stray meetings: a meeting that a server created after the API gave up on that placement (the store
//!    remembers abandoned placements), that the store maps to another server or to none, and that nobody is in,
//!    is ended on that server (`CycleReport::stray_meetings_ended`).
//! 7. Clean orphans (`meetings`/`voice_bridges` entries whose record expired).
//!
//! # Running (`Poller::run`)
//!
//! Cycles repeat `POLL_INTERVAL` after the previous one ended (the original's period: run time + interval). Only the
//! poller holding the lease `LEASE_NAME` in the store polls; the lease lasts `PollSettings::lease_ttl` (two
//! intervals) and is renewed before and during every cycle. A standby retries every half interval, so when the
//! active poller dies, another takes over about two intervals after the dead one's last renewal; when it stops
//! cleanly it gives the lease up and a standby takes over within half an interval.
//!
//! Shutdown is looked at only between cycles: a cycle is never abandoned half-way (the binary's grace period bounds
//! the wait).
//!
//! # The binary (`service`)
//!
//! `service::Cli` is the command line of `scalelite-poller`; `service::run` opens the store, starts the metrics
//! listener (`METRICS_BIND`) and runs `Poller::run` until SIGTERM/SIGINT, then waits for the cycle in progress.

pub mod load;
pub mod metrics;
pub mod service;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use scalelite_core::bbb::params::Params;
use scalelite_core::bbb::xml::{self, MeetingSummary};
use scalelite_core::bbb_client::BbbClient;
use scalelite_core::config;
use scalelite_core::domain::{Meeting, Server, ServerPatch, ServerState, ServerStats};
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, MiscStore, ServerStore, StoreError, StoreResult};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::load::{LoadRules, compute_load, compute_stats, scaled_load};
use crate::metrics::{PollerMetrics, ServerSample};

/// Name of the lease that elects the active poller.
pub const LEASE_NAME: &str = "poller";

/// How long an abandoned placement is remembered while its server does not report the meeting.
const ABANDONED_KEEP: Duration = Duration::from_secs(3600);

/// `end` calls of one panicked server in flight at once.
const END_CONCURRENCY: usize = 8;

/// What a poll cycle needs from the configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct PollSettings {
    /// `SERVER_HEALTHY_THRESHOLD`: consecutive successful polls before an offline server is online again.
    pub healthy_threshold: i64,
    /// `SERVER_UNHEALTHY_THRESHOLD`: consecutive failed polls before an online server is panicked.
    pub unhealthy_threshold: i64,
    /// `LOAD_MIN_USER_COUNT`.
    pub load_min_user_count: i64,
    /// `LOAD_JOIN_BUFFER_TIME`.
    pub load_join_buffer: Duration,
    /// `DEFAULT_MEETING_TTL`: given again to every meeting a server still reports.
    pub meeting_ttl: Duration,
    /// Servers polled at once (at least 1): `POLLER_THREADS - 1`, the original's thread pool size.
    pub concurrency: usize,
    /// `POLL_INTERVAL`: pause between the end of a cycle and the start of the next.
    pub interval: Duration,
    /// `POLLER_WAIT_TIMEOUT`: the longest one server's BBB calls may take in a cycle (each call is also bounded by
    /// the BBB client's connect + response timeouts).
    pub server_timeout: Duration,
    /// The least time a meeting must have been missing before it is forgotten; `None` means the BBB client's
    /// connect + response timeout (see the module documentation).
    pub ended_grace: Option<Duration>,
    /// Read every server's BBB version every this many cycles (0 is taken as 1).
    pub version_refresh_cycles: u64,
    /// `MEETING_FAILOVER`: a server that goes offline keeps its meetings (no `end` is sent), so the next join of
    /// each re-creates it on another server; off, they are forgotten and ended as the original does. On by default,
    /// as the variable.
    pub meeting_failover: bool,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            healthy_threshold: 1,
            unhealthy_threshold: 2,
            load_min_user_count: 15,
            load_join_buffer: Duration::from_secs(15 * 60),
            meeting_ttl: Duration::from_secs(86_400),
            concurrency: 4,
            interval: Duration::from_secs(60),
            server_timeout: Duration::from_secs(10),
            ended_grace: None,
            version_refresh_cycles: 10,
            meeting_failover: true,
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
            // The original's pool has POLLER_THREADS - 1 threads (so 1 fails there); here 1 polls one at a time.
            concurrency: concurrency_of(poller.poller_threads),
            interval: poller.poll_interval,
            server_timeout: poller.poller_wait_timeout,
            meeting_failover: meetings.meeting_failover,
            ..Self::default()
        }
    }

    /// The oldest a missing-meeting mark may be and still count (see the module documentation): two intervals and
    /// two server timeouts (room for two cycles of the daemon), plus the grace itself.
    pub fn mark_window(&self, grace: Duration) -> Duration {
        self.interval * 2 + self.server_timeout * 2 + grace
    }

    /// How long the poller lease lasts: two intervals, and at least one interval plus a second, so renewing it
    /// once per cycle (and during long cycles) never lets it lapse.
    pub fn lease_ttl(&self) -> Duration {
        (self.interval * 2).max(self.interval + Duration::from_secs(1))
    }

    fn load_rules(&self) -> LoadRules {
        LoadRules {
            min_user_count: self.load_min_user_count,
            join_buffer: self.load_join_buffer,
        }
    }
}

/// Servers polled at once for `POLLER_THREADS`: the original's thread pool size, `POLLER_THREADS - 1`, at least 1.
pub fn concurrency_of(poller_threads: u32) -> usize {
    usize::try_from(poller_threads.saturating_sub(1).max(1)).unwrap_or(usize::MAX)
}

/// The outcome of one cycle, for logs, metrics, the CLI and tests. Id lists are sorted.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CycleReport {
    /// Servers whose poll was accounted for (store failures excluded).
    pub servers_polled: usize,
    /// Of those, online after the cycle.
    pub servers_online: usize,
    /// Of those, offline after the cycle.
    pub servers_offline: usize,
    /// Servers that did not answer usefully in time.
    pub servers_failed: Vec<String>,
    /// Servers that went offline in this cycle (their meetings were forgotten).
    pub servers_panicked: Vec<String>,
    /// Servers whose record could not be updated because the store failed (or they were removed meanwhile).
    pub servers_not_updated: Vec<String>,
    /// Meetings forgotten: ended (missing for the grace period) or on a panicked server.
    pub meetings_removed: Vec<String>,
    /// Meetings whose TTL was refreshed.
    pub meetings_refreshed: usize,
    /// Orphaned `meetings`/`voice_bridges` entries removed.
    pub orphans_cleaned: u64,
    /// Stray meetings ended: created by a server after the API had given up on it (an abandoned placement),
    /// mapped to another server or to none, and with nobody in them.
    pub stray_meetings_ended: Vec<String>,
    /// How long the cycle took.
    pub duration: Duration,
}

/// A poller: the store, the BBB client, the settings, and what it remembers between cycles. Cheap to clone; clones
/// share everything (keep one for `metrics()` while another runs).
#[derive(Clone)]
pub struct Poller {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    bbb: BbbClient,
    settings: PollSettings,
    /// Serialises this poller's cycles and holds what they remember.
    memory: tokio::sync::Mutex<Memory>,
    metrics: std::sync::Mutex<PollerMetrics>,
    /// `end` calls sent to panicked servers.
    background: TaskTracker,
}

#[derive(Default)]
struct Memory {
    /// Cycles started by this poller.
    cycles: u64,
}

/// The answers of one server.
struct Answer {
    meetings: Vec<MeetingSummary>,
    version: Option<String>,
}

/// What polling one server did.
struct ServerOutcome {
    /// The server as read at the start of the cycle.
    server: Server,
    /// Meeting ids the server reported, when the poll succeeded.
    reported: Option<HashSet<String>>,
    /// Of those, the meetings someone is in.
    attended: HashSet<String>,
    /// How the update went.
    update: StoreResult<Update>,
    duration: Duration,
}

/// The server's health after its update.
struct Update {
    online: bool,
    panicked: bool,
    /// The record after the update, when it was written.
    record: Option<Server>,
}

impl Poller {
    /// A poller over `store`, calling servers with `bbb`.
    pub fn new(store: Store, bbb: BbbClient, settings: PollSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                bbb,
                settings,
                memory: tokio::sync::Mutex::default(),
                metrics: std::sync::Mutex::default(),
                background: TaskTracker::new(),
            }),
        }
    }

    /// The settings this poller runs with.
    pub fn settings(&self) -> &PollSettings {
        &self.inner.settings
    }

    /// A snapshot of this poller's figures (updated at the end of every cycle).
    pub fn metrics(&self) -> PollerMetrics {
        self.inner
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// One full cycle (see the module documentation). Cycles of one `Poller` never overlap: a call made while
    /// another runs waits for it. Fails only when the store does; a server that cannot be polled or updated is
    /// reported, not an error.
    pub async fn poll_once(&self) -> StoreResult<CycleReport> {
        let mut memory = self.inner.memory.lock().await;
        let started = Instant::now();
        let result = self.cycle(&mut memory).await;
        memory.cycles += 1;
        drop(memory);
        let duration = started.elapsed();
        let mut metrics = self
            .inner
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok((mut report, samples)) => {
                report.duration = duration;
                metrics.record_cycle(&report, samples, SystemTime::now());
                Ok(report)
            }
            Err(e) => {
                metrics.record_failed_cycle(duration, SystemTime::now());
                Err(e)
            }
        }
    }

    /// Wait until the `end` calls sent to panicked servers are done, at most `within`. True when they are.
    pub async fn settle(&self, within: Duration) -> bool {
        let tracker = &self.inner.background;
        tracker.close();
        let done = tokio::time::timeout(within, tracker.wait()).await.is_ok();
        tracker.reopen();
        done
    }

    /// Cycles until `shutdown`, only while holding the lease `LEASE_NAME` as `holder` (see the module
    /// documentation). Shutdown is looked at between cycles only. On the way out the lease is given up and the
    /// last `end` calls get a moment to finish.
    pub async fn run(&self, holder: &str, shutdown: CancellationToken) {
        let settings = &self.inner.settings;
        let ttl = settings.lease_ttl();
        while !shutdown.is_cancelled() {
            let active = match self.inner.store.try_lease(LEASE_NAME, holder, ttl).await {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(error.message = %e, "could not reach the store for the poller lease");
                    false
                }
            };
            self.set_active(active);
            let pause = if active {
                self.cycle_holding_lease(holder, ttl).await;
                settings.interval
            } else {
                tracing::debug!("another poller holds the lease; standing by");
                settings.interval / 2
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        self.set_active(false);
        if let Err(e) = self.inner.store.release_lease(LEASE_NAME, holder).await {
            tracing::warn!(error.message = %e, "could not release the poller lease");
        }
        if !self.settle(settings.server_timeout).await {
            tracing::warn!("some end calls to offline servers were still running at exit");
        }
        tracing::info!("Exiting poller on signal");
    }

    /// One cycle, renewing the lease while it runs so a long cycle never lets it lapse. Losing the lease meanwhile
    /// does not stop the cycle (it is never abandoned half-way).
    async fn cycle_holding_lease(&self, holder: &str, ttl: Duration) {
        let cycle = self.poll_once();
        tokio::pin!(cycle);
        let result = loop {
            tokio::select! {
                result = &mut cycle => break result,
                () = tokio::time::sleep(ttl / 4) => {
                    match self.inner.store.try_lease(LEASE_NAME, holder, ttl).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("lost the poller lease during a cycle; finishing the cycle"),
                        Err(e) => tracing::warn!(error.message = %e, "could not renew the poller lease"),
                    }
                }
            }
        };
        match result {
            Ok(report) => tracing::info!(
                servers = report.servers_polled,
                online = report.servers_online,
                offline = report.servers_offline,
                failed = report.servers_failed.len(),
                meetings_removed = report.meetings_removed.len(),
                duration_ms = report.duration.as_millis() as u64,
                "poll cycle done"
            ),
            Err(e) => tracing::warn!(error.message = %e, "poll cycle failed"),
        }
    }

    fn set_active(&self, active: bool) {
        let mut metrics = self
            .inner
            .metrics
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if metrics.active != active {
            if active {
                tracing::info!("this poller holds the lease and is active");
            } else {
                tracing::info!("this poller is standing by");
            }
        }
        metrics.active = active;
    }

    async fn cycle(&self, memory: &mut Memory) -> StoreResult<(CycleReport, Vec<ServerSample>)> {
        let store = &self.inner.store;
        let servers = store.list_servers().await?;
        // The time the marks of this cycle carry: before the meetings are read, so a meeting read here was
        // recorded no later than this.
        // Wall-clock time, not `Instant`: the marks are shared between processes.
        let listed_at = now_ms();
        let meetings_before = store.list_meetings().await?;
        let known: HashMap<String, ServerState> =
            servers.iter().map(|s| (s.id.clone(), s.state)).collect();
        let refresh_versions =
            memory.cycles % self.inner.settings.version_refresh_cycles.max(1) == 0;

        let mut report = CycleReport::default();
        let mut samples = Vec::new();
        let mut reported_by: HashMap<String, HashSet<String>> = HashMap::new();
        let mut attended: HashSet<(String, String)> = HashSet::new();
        let mut polled: HashMap<String, Server> = HashMap::new();
        let mut panicked: Vec<Server> = Vec::new();
        for outcome in self.poll_servers(servers, refresh_versions).await {
            let ServerOutcome {
                server,
                reported,
                attended: attended_here,
                update,
                duration,
            } = outcome;
            attended.extend(attended_here.into_iter().map(|m| (server.id.clone(), m)));
            let failed = reported.is_none();
            if failed {
                report.servers_failed.push(server.id.clone());
            }
            let update = match update {
                Ok(update) => update,
                Err(StoreError::NotFound(_)) => {
                    tracing::warn!(server.id = %server.id, "Unable to update Server: it was removed");
                    report.servers_not_updated.push(server.id);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(server.id = %server.id, error.message = %e, "Unable to update Server");
                    report.servers_not_updated.push(server.id);
                    continue;
                }
            };
            report.servers_polled += 1;
            if update.online {
                report.servers_online += 1;
            } else {
                report.servers_offline += 1;
            }
            let record = update.record.as_ref().unwrap_or(&server);
            samples.push(ServerSample {
                id: server.id.clone(),
                online: update.online,
                failed,
                duration,
                load: record.load,
                stats: record.stats,
            });
            if let Some(ids) = reported {
                reported_by.insert(server.id.clone(), ids);
                polled.insert(server.id.clone(), server.clone());
            }
            if update.panicked {
                report.servers_panicked.push(server.id.clone());
                panicked.push(server);
            }
        }

        let panicked_ids: HashSet<String> = panicked.iter().map(|s| s.id.clone()).collect();
        if self.inner.settings.meeting_failover {
            for server in &panicked {
                tracing::info!(
                    server.id = %server.id,
                    "server offline: its meetings are kept for failover (their next join creates them elsewhere)"
                );
            }
        } else {
            self.forget_meetings_of(panicked, &mut report).await?;
        }
        self.reconcile_meetings(
            meetings_before,
            &known,
            &reported_by,
            &panicked_ids,
            listed_at,
            &mut report,
        )
        .await?;
        self.end_strays(&polled, &reported_by, &attended, &mut report)
            .await?;
        report.orphans_cleaned = store.clean_orphans().await?;
        report.stray_meetings_ended.sort();
        report.servers_failed.sort();
        report.servers_panicked.sort();
        report.servers_not_updated.sort();
        report.meetings_removed.sort();
        Ok((report, samples))
    }

    /// Poll every server, at most `concurrency` at once among the healthy ones and as many among the suspect ones
    /// (offline, or failed last time): a pool of dead servers, each holding its permit until its timeout, then
    /// never delays the servers that answer. A call slower than [`slow_call_after`] gives up its turn.
    async fn poll_servers(
        &self,
        servers: Vec<Server>,
        refresh_versions: bool,
    ) -> Vec<ServerOutcome> {
        let concurrency = self.inner.settings.concurrency.max(1);
        let healthy = Arc::new(Semaphore::new(concurrency));
        let suspect = Arc::new(Semaphore::new(concurrency));
        let mut tasks = JoinSet::new();
        let slow_after = slow_call_after(self.inner.settings.server_timeout);
        for server in servers {
            let poller = self.clone();
            let permits = if is_suspect(&server) {
                suspect.clone()
            } else {
                healthy.clone()
            };
            tasks.spawn(async move {
                // The semaphores are never closed, so this only waits.
                let mut permit = Some(permits.acquire_owned().await);
                let started = Instant::now();
                let answer = {
                    let ask = poller.ask(&server, refresh_versions);
                    tokio::pin!(ask);
                    tokio::select! {
                        answer = &mut ask => answer,
                        () = tokio::time::sleep(slow_after) => {
                            // Still unanswered: most likely a server that hangs (known as dead or not yet, as in
                            // a first cycle). It waits out its timeout without a turn; the next server takes it.
                            permit = None;
                            ask.await
                        }
                    }
                };
                // The turn is for asking: the writes queue in the store, not here.
                drop(permit);
                poller.record(server, answer, started).await
            });
        }
        let mut outcomes = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => tracing::error!(error.message = %e, "poll: a server task failed"),
            }
        }
        outcomes
    }

    /// Write what one server said (`docs/compatibility.md#poller-health`), its calls ([`Self::ask`]) having begun at
    /// `started`.
    async fn record(
        &self,
        server: Server,
        answer: Result<Answer, String>,
        started: Instant,
    ) -> ServerOutcome {
        let mut attended = HashSet::new();
        let (reported, update) = match answer {
            Ok(answer) => {
                let ids = answer
                    .meetings
                    .iter()
                    .map(|m| m.meeting_id.clone())
                    .collect();
                attended = answer
                    .meetings
                    .iter()
                    .filter(|m| m.participant_count > 0 || m.moderator_count > 0)
                    .map(|m| m.meeting_id.clone())
                    .collect();
                (Some(ids), self.on_success(&server, answer).await)
            }
            Err(error) => {
                tracing::warn!(server.id = %server.id, error.message = %error, "Failed to get server status");
                (None, self.on_failure(&server).await)
            }
        };
        ServerOutcome {
            server,
            reported,
            attended,
            update,
            duration: started.elapsed(),
        }
    }

    /// `getMeetings` and, when due, the index (BBB version), all within `server_timeout`.
    async fn ask(&self, server: &Server, refresh_version: bool) -> Result<Answer, String> {
        let limit = self.inner.settings.server_timeout;
        let deadline = tokio::time::Instant::now() + limit;
        let bbb = &self.inner.bbb;
        let response = tokio::time::timeout_at(
            deadline,
            // Only what `meeting_summaries` reads is built: the attendees are most of a busy server's answer.
            bbb.call_pruned(
                server,
                "getMeetings",
                &Params::default(),
                false,
                xml::for_summaries,
            ),
        )
        .await
        .map_err(|_| format!("no answer within {limit:?}"))?
        .map_err(|e| e.to_string())?;
        let meetings = xml::meeting_summaries(&response.root);
        let version = if refresh_version || !server.online || server.bbb_version.is_none() {
            let no_params = Params::default();
            let index = bbb.call_pruned(server, "", &no_params, false, xml::for_version);
            match tokio::time::timeout_at(deadline, index).await {
                // Empty unless the server reveals its version, as the original stores it.
                Ok(Ok(response)) => Some(xml::bbb_version(&response.root).unwrap_or_default()),
                Ok(Err(e)) => {
                    tracing::warn!(server.id = %server.id, error.message = %e, "could not read the BBB version");
                    None
                }
                Err(_) => {
                    tracing::warn!(server.id = %server.id, "could not read the BBB version in time");
                    None
                }
            }
        } else {
            None
        };
        Ok(Answer { meetings, version })
    }

    async fn on_success(&self, server: &Server, answer: Answer) -> StoreResult<Update> {
        let store = &self.inner.store;
        let settings = &self.inner.settings;
        // Only consecutive failures count. Counters as read at the start of the cycle: one poller writes them.
        if server.unhealthy_counter != 0 {
            store.reset_counters(&server.id, false, true).await?;
        }
        let mut patch = ServerPatch::default();
        if !server.online {
            let healthy = store.increment_healthy(&server.id).await?;
            if healthy < settings.healthy_threshold {
                return Ok(Update {
                    online: false,
                    panicked: false,
                    record: None,
                });
            }
            tracing::info!(server.id = %server.id, "Server is healthy. Bringing back online...");
            store.reset_counters(&server.id, true, true).await?;
            patch.online = Some(true);
        }
        let load = scaled_load(
            compute_load(&answer.meetings, settings.load_rules(), now_ms()),
            server.load_multiplier,
        );
        match server.state {
            ServerState::Disabled => {}
            ServerState::Cordoned if load == 0.0 => {
                tracing::info!(server.id = %server.id, "Cordoned server has no load any more: disabling it");
                patch.state = Some(ServerState::Disabled);
                patch.load = Some(None);
            }
            ServerState::Enabled | ServerState::Cordoned => patch.load = Some(Some(load)),
        }
        patch.stats = Some(compute_stats(&answer.meetings));
        patch.bbb_version = answer.version;
        let record = store.patch_server(&server.id, patch).await?;
        match record.load {
            Some(load) => tracing::info!(server.id = %server.id, load, "Server online"),
            None => tracing::info!(server.id = %server.id, load = "unavailable", "Server online"),
        }
        Ok(Update {
            online: true,
            panicked: false,
            record: Some(record),
        })
    }

    async fn on_failure(&self, server: &Server) -> StoreResult<Update> {
        let store = &self.inner.store;
        if server.healthy_counter != 0 {
            store.reset_counters(&server.id, true, false).await?;
        }
        if !server.online {
            return Ok(Update {
                online: false,
                panicked: false,
                record: None,
            });
        }
        let unhealthy = store.increment_unhealthy(&server.id).await?;
        if unhealthy < self.inner.settings.unhealthy_threshold {
            return Ok(Update {
                online: true,
                panicked: false,
                record: None,
            });
        }
        tracing::warn!(server.id = %server.id, "Server is unhealthy. Panicking and setting offline...");
        store.reset_counters(&server.id, true, true).await?;
        let patch = ServerPatch {
            online: Some(false),
            load: Some(None),
            stats: Some(ServerStats::default()),
            ..ServerPatch::default()
        };
        let record = store.patch_server(&server.id, patch).await?;
        tracing::info!(server.id = %server.id, load = "unavailable", "Server offline");
        Ok(Update {
            online: false,
            panicked: true,
            record: Some(record),
        })
    }

    /// Forget every meeting of the panicked `servers` (already offline, so nothing new lands on them) and send an
    /// `end` for each in the background.
    async fn forget_meetings_of(
        &self,
        servers: Vec<Server>,
        report: &mut CycleReport,
    ) -> StoreResult<()> {
        if servers.is_empty() {
            return Ok(());
        }
        let mut by_server: HashMap<String, Vec<Meeting>> = HashMap::new();
        for meeting in self.inner.store.list_meetings().await? {
            by_server
                .entry(meeting.server_id.clone())
                .or_default()
                .push(meeting);
        }
        for server in servers {
            let meetings = by_server.remove(&server.id).unwrap_or_default();
            for meeting in &meetings {
                if self.inner.store.delete_meeting(&meeting.id).await? {
                    report.meetings_removed.push(meeting.id.clone());
                }
            }
            self.end_in_background(server, meetings);
        }
        Ok(())
    }

    fn end_in_background(&self, server: Server, meetings: Vec<Meeting>) {
        if meetings.is_empty() {
            return;
        }
        let bbb = self.inner.bbb.clone();
        self.inner.background.spawn(async move {
            let server = Arc::new(server);
            let permits = Arc::new(Semaphore::new(END_CONCURRENCY));
            let mut calls = JoinSet::new();
            for meeting in meetings {
                let (bbb, server, permits) = (bbb.clone(), server.clone(), permits.clone());
                calls.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    let mut params = Params::default();
                    params.set("meetingID", &meeting.id);
                    params.set("password", &meeting.moderator_pw);
                    if let Err(e) = bbb.call(&server, "end", &params, None, true).await {
                        tracing::warn!(meeting.id = %meeting.id, error.message = %e, "Could not end meeting");
                    }
                });
            }
            while calls.join_next().await.is_some() {}
        });
    }

    /// Refresh the TTL of reported meetings; mark missing ones, forget those missing long enough (see the module
    /// documentation).
    async fn reconcile_meetings(
        &self,
        meetings_before: Vec<Meeting>,
        known_servers: &HashMap<String, ServerState>,
        reported_by: &HashMap<String, HashSet<String>>,
        panicked: &HashSet<String>,
        listed_at: i64,
        report: &mut CycleReport,
    ) -> StoreResult<()> {
        let store = &self.inner.store;
        let grace = self.ended_grace();
        let grace_ms = duration_ms(grace);
        let window_ms = duration_ms(self.inner.settings.mark_window(grace));
        let mut marks = store.missing_meetings().await?;
        let mut mark = Vec::new();
        let mut clear = Vec::new();
        // Servers absent from this cycle's list: removed, or added since? Asked once each.
        let mut removed_servers: HashMap<String, bool> = HashMap::new();
        let mut refresh = Vec::new();
        for meeting in meetings_before {
            let previous = marks.remove(&meeting.id);
            if panicked.contains(&meeting.server_id) {
                // Forgotten with its server.
                if previous.is_some() {
                    clear.push(meeting.id);
                }
                continue;
            }
            let missing = match reported_by.get(&meeting.server_id) {
                Some(ids) if ids.contains(&meeting.id) => {
                    if previous.is_some() {
                        clear.push(meeting.id.clone());
                    }
                    refresh.push(meeting.id);
                    continue;
                }
                Some(_) => true,
                None if known_servers.contains_key(&meeting.server_id) => false,
                None => match removed_servers.get(&meeting.server_id) {
                    Some(removed) => *removed,
                    None => {
                        let removed = match store.get_server(&meeting.server_id).await {
                            Ok(_) => false,
                            Err(StoreError::NotFound(_)) => true,
                            Err(e) => return Err(e),
                        };
                        removed_servers.insert(meeting.server_id.clone(), removed);
                        removed
                    }
                },
            };
            let kept = self.inner.settings.meeting_failover
                && known_servers.get(&meeting.server_id) == Some(&ServerState::Disabled);
            if !missing || kept {
                // Its server could not be polled: this cycle says nothing about it, the count starts again.
                // Or its server is disabled (`servers:panic`) and failover is on: the record stays for the
                // meeting's next join, which creates it on another server; the TTL reaps it otherwise.
                if previous.is_some() {
                    clear.push(meeting.id);
                }
                continue;
            }
            match previous.map(|since| listed_at.saturating_sub(since)) {
                Some(age) if age >= grace_ms && age <= window_ms => {
                    // A create still in flight (failing over, perhaps) holds a claim: not ended, not yet begun;
                    // the mark stays.
                    let in_flight = store
                        .meeting_state(&meeting.id)
                        .await?
                        .is_some_and(|state| state.claim.is_some());
                    if in_flight {
                        continue;
                    }
                    if store.delete_meeting(&meeting.id).await? {
                        tracing::info!(
                            meeting.id = %meeting.id,
                            server.id = %meeting.server_id,
                            "Meeting has ended"
                        );
                        report.meetings_removed.push(meeting.id.clone());
                    }
                    clear.push(meeting.id);
                }
                // Marked recently (or by a cycle that read the meetings after this one): keep counting.
                Some(age) if age < grace_ms => {}
                // Not marked, or marked too long ago to mean anything now.
                _ => mark.push((meeting.id, listed_at)),
            }
        }
        // Marks of meetings that are gone.
        clear.extend(marks.into_keys());
        store.update_missing_meetings(&mark, &clear).await?;
        if !refresh.is_empty() {
            store
                .refresh_meetings(&refresh, self.inner.settings.meeting_ttl)
                .await?;
        }
        report.meetings_refreshed = refresh.len();
        Ok(())
    }

    /// End the meetings that servers created after the API had given up on them (see `AbandonedPlacement`): a
    /// meeting reported by the server it was abandoned on, that the store maps to another server or to none, and
    /// that nobody is in. An abandoned placement the store maps to that same server (with no create in flight)
    /// became the real one; one nobody is in any more is left alone after `ABANDONED_KEEP`.
    async fn end_strays(
        &self,
        polled: &HashMap<String, Server>,
        reported_by: &HashMap<String, HashSet<String>>,
        attended: &HashSet<(String, String)>,
        report: &mut CycleReport,
    ) -> StoreResult<()> {
        let store = &self.inner.store;
        let abandoned = store.list_abandoned().await?;
        let now = now_ms();
        let keep = i64::try_from(ABANDONED_KEEP.as_millis()).unwrap_or(i64::MAX);
        for placement in abandoned {
            let (meeting_id, server_id) = (&placement.meeting_id, &placement.server_id);
            let reported = reported_by
                .get(server_id)
                .is_some_and(|ids| ids.contains(meeting_id));
            if !reported {
                if now.saturating_sub(placement.at_ms) > keep {
                    store.forget_abandoned(meeting_id, server_id).await?;
                }
                continue;
            }
            match store.meeting_state(meeting_id).await? {
                Some(state) if state.meeting.server_id == *server_id => {
                    if state.claim.is_none() {
                        store.forget_abandoned(meeting_id, server_id).await?;
                    }
                    continue;
                }
                _ => {}
            }
            if attended.contains(&(server_id.clone(), meeting_id.clone())) {
                tracing::warn!(meeting.id = %meeting_id, server.id = %server_id, "stray meeting has participants; left running");
                store.forget_abandoned(meeting_id, server_id).await?;
                continue;
            }
            let Some(server) = polled.get(server_id) else {
                continue;
            };
            let mut params = Params::default();
            params.set("meetingID", meeting_id);
            params.set("password", &placement.moderator_pw);
            match self
                .inner
                .bbb
                .call(server, "end", &params, None, false)
                .await
            {
                Ok(_) => {
                    tracing::info!(meeting.id = %meeting_id, server.id = %server_id, "ended a stray meeting (created after its placement was given up)");
                    report.stray_meetings_ended.push(meeting_id.clone());
                    store.forget_abandoned(meeting_id, server_id).await?;
                }
                Err(e) => {
                    tracing::warn!(meeting.id = %meeting_id, server.id = %server_id, error.message = %e, "could not end a stray meeting");
                }
            }
        }
        Ok(())
    }

    fn ended_grace(&self) -> Duration {
        self.inner.settings.ended_grace.unwrap_or_else(|| {
            let timeouts = self.inner.bbb.timeouts();
            timeouts.connect + timeouts.response
        })
    }
}

/// Whether a server is likely not to answer: offline, or its last poll failed.
/// How long a poll call holds its turn among `concurrency`: an eighth of the per-server timeout, at least 50 ms. A
/// BBB server that works answers `getMeetings` well within it; a call that takes longer is most likely hanging and
/// waits out its timeout without a turn. So hanging servers, known as dead or not yet (a first cycle), delay the
/// others by this much each instead of a whole timeout, and a cycle takes about one timeout however many hang.
fn slow_call_after(server_timeout: Duration) -> Duration {
    (server_timeout / 8).max(Duration::from_millis(50))
}

fn is_suspect(server: &Server) -> bool {
    !server.online || server.unhealthy_counter > 0
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests;
