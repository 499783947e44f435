//! The poller against real storage and fake BBB servers (`docs/compatibility.md#poller`):
//! load and statistics, health thresholds, panics, cordoned servers, meeting reconciliation, timeouts, the lease
//! that keeps one poller active, and shutdown between cycles.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fake_bbb::{FakeServer, Fault, SeedMeeting};
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::domain::{
    Meeting, NewMeeting, NewServer, Secret, Server, ServerPatch, ServerState, ServerStats,
};
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, MiscStore, ServerStore, StoreError};
use scalelite_poller::{LEASE_NAME, PollSettings, Poller};
use tokio_util::sync::CancellationToken;

use crate::harness::*;

/// A pool of fake servers registered in an isolated store.
struct Pool {
    store: Store,
    fakes: HashMap<String, FakeServer>,
    voice_bridges: AtomicU32,
    _guard: TestStore,
}

impl Pool {
    async fn new(backend: Backend) -> Pool {
        crate::init_logs();
        let guard = test_store(backend).await;
        Pool {
            store: guard.store.clone(),
            fakes: HashMap::new(),
            voice_bridges: AtomicU32::new(70_000),
            _guard: guard,
        }
    }

    /// Start a fake server and register it online, in `state`, with load 0 (when it can have one).
    async fn add(&mut self, id: &str, state: ServerState, multiplier: f64) -> FakeServer {
        let secret = format!("{id}-secret");
        let fake = FakeServer::start(secret.clone())
            .await
            .expect("start a fake BBB server");
        self.store
            .add_server(NewServer {
                id: id.into(),
                url: fake.url(),
                secret: Secret::new(secret),
                tag: None,
                state,
                load_multiplier: multiplier,
            })
            .await
            .expect("add server");
        self.store
            .patch_server(
                id,
                ServerPatch {
                    online: Some(true),
                    load: Some(Some(0.0)),
                    ..ServerPatch::default()
                },
            )
            .await
            .expect("bring server online");
        self.fakes.insert(id.into(), fake.clone());
        fake
    }

    fn poller(&self, settings: PollSettings) -> Poller {
        Poller::new(
            self.store.clone(),
            bbb_client(Duration::from_secs(5)),
            settings,
        )
    }

    async fn server(&self, id: &str) -> Server {
        self.store.get_server(id).await.expect("server")
    }

    /// Record a meeting on `server_id` as the API's create does (the BBB side is the test's business).
    async fn place(&self, meeting_id: &str, server_id: &str, ttl: Duration) -> Meeting {
        let placement = self
            .store
            .find_or_create_meeting(
                NewMeeting {
                    id: meeting_id.into(),
                    server_id: server_id.into(),
                    moderator_pw: format!("{meeting_id}-mp"),
                    voice_bridge_candidates: vec![
                        self.voice_bridges
                            .fetch_add(1, Ordering::Relaxed)
                            .to_string(),
                    ],
                    tenant_id: None,
                },
                ttl,
            )
            .await
            .expect("place meeting");
        placement.meeting().clone()
    }

    async fn meeting_exists(&self, id: &str) -> bool {
        match self.store.get_meeting(id).await {
            Ok(_) => true,
            Err(StoreError::NotFound(_)) => false,
            Err(e) => panic!("store failed: {e}"),
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// Settings for tests: the original's thresholds and load rules (an offline server's meetings are forgotten, as
/// with MEETING_FAILOVER=false), short timeouts, no time-based grace.
fn settings() -> PollSettings {
    PollSettings {
        interval: Duration::from_millis(200),
        server_timeout: Duration::from_secs(3),
        ended_grace: Some(Duration::ZERO),
        meeting_failover: false,
        ..PollSettings::default()
    }
}

/// A BBB client whose calls are bounded by `response` (plus a one-second connect timeout).
fn bbb_client(response: Duration) -> BbbClient {
    BbbClient::new(
        Timeouts {
            connect: Duration::from_secs(1),
            response,
        },
        Algorithm::Sha256,
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A meeting created an hour ago (past the join buffer), with `participants` attendees.
fn old(id: &str, participants: u32, moderators: u32) -> SeedMeeting {
    SeedMeeting {
        create_time_ms: Some(now_ms() - 3_600_000),
        ..seed(id, participants, moderators)
    }
}

fn get_meetings_calls(fake: &FakeServer) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.call == "getMeetings")
        .count()
}

/// Wait until `check` holds, for at most 20 s (the machine may be busy); panics naming `what` otherwise.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends! {
    async fn load_and_stats_come_from_the_seeded_meetings(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let a = pool.add("bbb-a", ServerState::Enabled, 1.0).await;
        let b = pool.add("bbb-b", ServerState::Enabled, 2.5).await;
        for fake in [&a, &b] {
            // 10 attendees, 3 of them moderators: counts 10 (the original would count 13).
            let mut big = old("big", 10, 3);
            big.video_count = 4;
            fake.seed_meeting(big).unwrap();
            // A breakout room adds no load but counts in the statistics.
            let mut breakout = old("big-breakout", 6, 0);
            breakout.is_breakout = true;
            fake.seed_meeting(breakout).unwrap();
            // A young meeting reserves LOAD_MIN_USER_COUNT (15) whatever its attendees.
            fake.seed_meeting(seed("young", 2, 1)).unwrap();
        }
        let poller = pool.poller(settings());
        let report = poller.poll_once().await.expect("poll");
        assert_eq!((report.servers_polled, report.servers_online, report.servers_offline), (2, 2, 0));
        assert!(report.servers_failed.is_empty(), "{report:?}");

        let expected_stats = ServerStats { meetings: 3, users: 18, largest_meeting: 10, videos: 4 };
        let a_now = pool.server("bbb-a").await;
        assert_eq!(a_now.load, Some(25.0));
        assert_eq!(a_now.stats, expected_stats);
        assert_eq!(a_now.bbb_version.as_deref(), Some(fake_bbb::DEFAULT_BBB_VERSION));
        let b_now = pool.server("bbb-b").await;
        assert_eq!(b_now.load, Some(62.5), "load_multiplier 2.5 × 25");
        assert_eq!(b_now.stats, expected_stats);

        // Exactly one getMeetings per server per cycle.
        assert_eq!((get_meetings_calls(&a), get_meetings_calls(&b)), (1, 1));
        assert!(a.requests().iter().all(|r| r.checksum_ok != Some(false)));

        // The next cycle overwrites a load the API bumped meanwhile with the computed one.
        pool.store.increment_load("bbb-a", 7.0).await.unwrap();
        a.remove_meeting("young");
        poller.poll_once().await.expect("poll");
        assert_eq!(pool.server("bbb-a").await.load, Some(10.0));
        assert_eq!((get_meetings_calls(&a), get_meetings_calls(&b)), (2, 2));

        let metrics = poller.metrics();
        assert_eq!((metrics.cycles_total, metrics.servers_online, metrics.servers_offline), (2, 2, 0));
        assert_eq!(metrics.servers["bbb-b"].load, Some(62.5));
        assert_eq!(metrics.servers["bbb-a"].errors_total, 0);
        assert!(metrics.last_cycle_duration.is_some());
    }

    async fn health_follows_the_thresholds(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        fake.seed_meeting(old("m", 4, 1)).unwrap();
        let poller = pool.poller(PollSettings { unhealthy_threshold: 3, healthy_threshold: 2, ..settings() });
        poller.poll_once().await.unwrap();
        assert_eq!(pool.server("bbb-1").await.load, Some(4.0));

        // Failures must be consecutive: a success in between starts the count again.
        fake.set_fault(Fault::Refuse).await.unwrap();
        for _ in 0..2 {
            let report = poller.poll_once().await.unwrap();
            assert_eq!(report.servers_failed, ["bbb-1"]);
        }
        let server = pool.server("bbb-1").await;
        assert!(server.online);
        assert_eq!(server.unhealthy_counter, 2);
        fake.set_fault(Fault::Normal).await.unwrap();
        poller.poll_once().await.unwrap();
        assert_eq!(pool.server("bbb-1").await.unhealthy_counter, 0);

        fake.set_fault(Fault::Refuse).await.unwrap();
        for expected in [1, 2] {
            poller.poll_once().await.unwrap();
            let server = pool.server("bbb-1").await;
            assert!(server.online, "still online after {expected} failures");
            assert_eq!(server.unhealthy_counter, expected);
            assert_eq!(server.load, Some(4.0), "the load stays while the server is online");
        }
        // The third consecutive failure takes it offline.
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.servers_panicked, ["bbb-1"]);
        let server = pool.server("bbb-1").await;
        assert!(!server.online);
        assert_eq!(server.load, None);
        assert!(pool.store.available_servers().await.unwrap().is_empty());
        assert_eq!((server.healthy_counter, server.unhealthy_counter), (0, 0));

        // Offline: more failures change nothing; then two consecutive successes bring it back.
        poller.poll_once().await.unwrap();
        assert!(!pool.server("bbb-1").await.online);
        fake.set_fault(Fault::Normal).await.unwrap();
        let report = poller.poll_once().await.unwrap();
        assert_eq!((report.servers_online, report.servers_offline), (0, 1));
        let server = pool.server("bbb-1").await;
        assert!(!server.online);
        assert_eq!(server.healthy_counter, 1);
        assert_eq!(server.stats, ServerStats::default(), "stats wait until the server is back");
        // A failure in between starts the count again.
        fake.set_fault(Fault::Http500).await.unwrap();
        poller.poll_once().await.unwrap();
        assert_eq!(pool.server("bbb-1").await.healthy_counter, 0);
        fake.set_fault(Fault::Normal).await.unwrap();
        poller.poll_once().await.unwrap();
        assert!(!pool.server("bbb-1").await.online);
        poller.poll_once().await.unwrap();
        let server = pool.server("bbb-1").await;
        assert!(server.online);
        assert_eq!(server.load, Some(4.0));
        assert_eq!(server.stats.meetings, 1);
        assert_eq!((server.healthy_counter, server.unhealthy_counter), (0, 0));
        assert_eq!(pool.store.available_servers().await.unwrap().len(), 1);

        let metrics = poller.metrics();
        assert_eq!(metrics.servers["bbb-1"].errors_total, 7);
        assert_eq!(metrics.servers_panicked_total, 1);
    }

    async fn an_offline_server_is_panicked(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let dead = pool.add("bbb-dead", ServerState::Enabled, 1.0).await;
        let alive = pool.add("bbb-alive", ServerState::Enabled, 1.0).await;
        for id in ["m1", "m2"] {
            pool.place(id, "bbb-dead", HOUR).await;
            dead.seed_meeting(old(id, 3, 1)).unwrap();
        }
        pool.place("m3", "bbb-alive", HOUR).await;
        alive.seed_meeting(old("m3", 3, 1)).unwrap();
        let poller = pool.poller(PollSettings { unhealthy_threshold: 1, ..settings() });
        poller.poll_once().await.unwrap();
        assert_eq!(pool.server("bbb-dead").await.stats.meetings, 2);

        // Answers that are not BBB documents are failures; the fake still logs what it receives.
        dead.set_fault(Fault::Http500).await.unwrap();
        dead.clear_requests();
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.servers_panicked, ["bbb-dead"]);
        assert_eq!(report.meetings_removed, ["m1", "m2"]);
        let server = pool.server("bbb-dead").await;
        assert!(!server.online);
        assert_eq!(server.load, None);
        assert_eq!(server.stats, ServerStats::default());
        assert!(!pool.meeting_exists("m1").await && !pool.meeting_exists("m2").await);
        assert!(pool.meeting_exists("m3").await, "other servers' meetings stay");

        // An `end` is sent for each forgotten meeting, with its moderator password.
        assert!(poller.settle(Duration::from_secs(20)).await);
        let mut ended: Vec<(String, String)> = dead
            .requests()
            .iter()
            .filter(|r| r.call == "end")
            .map(|r| (r.param("meetingID").unwrap_or("").to_owned(), r.param("password").unwrap_or("").to_owned()))
            .collect();
        ended.sort();
        assert_eq!(ended, [("m1".into(), "m1-mp".into()), ("m2".into(), "m2-mp".into())]);
        assert!(dead.requests().iter().all(|r| r.checksum_ok == Some(true)));
        assert!(alive.requests().iter().all(|r| r.call != "end"));
    }

    async fn a_drained_cordoned_server_is_disabled(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        pool.add("empty", ServerState::Cordoned, 1.0).await;
        let idle = pool.add("idle", ServerState::Cordoned, 1.0).await;
        // Past the join buffer and nobody left: no load, so disabled too.
        idle.seed_meeting(old("leftover", 0, 0)).unwrap();
        let busy = pool.add("busy", ServerState::Cordoned, 1.0).await;
        busy.seed_meeting(old("still-running", 5, 1)).unwrap();
        pool.poller(settings()).poll_once().await.unwrap();

        for id in ["empty", "idle"] {
            let server = pool.server(id).await;
            assert_eq!(server.state, ServerState::Disabled, "{id}");
            assert_eq!(server.load, None, "{id}");
            assert!(server.online, "{id}");
        }
        let server = pool.server("busy").await;
        assert_eq!(server.state, ServerState::Cordoned);
        assert_eq!(server.load, Some(5.0));
        assert!(pool.store.available_servers().await.unwrap().is_empty(), "cordoned servers take no meetings");
    }

    async fn a_disabled_server_is_polled_but_gets_no_load(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("off-duty", ServerState::Disabled, 1.0).await;
        fake.seed_meeting(old("m", 8, 2)).unwrap();
        fake.seed_meeting(seed("young", 1, 1)).unwrap();
        pool.place("m", "off-duty", HOUR).await;
        let poller = pool.poller(settings());
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.servers_online, 1);
        assert_eq!(report.meetings_refreshed, 1);
        assert_eq!(get_meetings_calls(&fake), 1);
        let server = pool.server("off-duty").await;
        assert_eq!(server.state, ServerState::Disabled);
        assert_eq!(server.load, None);
        assert_eq!(server.stats, ServerStats { meetings: 2, users: 9, largest_meeting: 8, videos: 0 });
        assert!(pool.store.available_servers().await.unwrap().is_empty());
        assert_eq!(poller.metrics().servers["off-duty"].load, None);
        // Its running meetings are kept.
        poller.poll_once().await.unwrap();
        assert!(pool.meeting_exists("m").await);
    }

    async fn ended_meetings_are_forgotten_after_the_grace(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        let ends = pool.place("ends", "bbb-1", HOUR).await;
        pool.place("runs", "bbb-1", HOUR).await;
        for id in ["ends", "runs"] {
            fake.seed_meeting(old(id, 2, 1)).unwrap();
        }
        let poller = pool.poller(settings());
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.meetings_refreshed, 2);

        assert!(fake.remove_meeting("ends"));
        // Missing once: kept, in case the server's answer raced a create.
        let report = poller.poll_once().await.unwrap();
        assert!(report.meetings_removed.is_empty(), "{report:?}");
        assert!(pool.meeting_exists("ends").await);
        // Missing in a second consecutive cycle: forgotten.
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.meetings_removed, ["ends"]);
        assert!(!pool.meeting_exists("ends").await);
        assert!(pool.meeting_exists("runs").await);
        assert_eq!(poller.metrics().meetings_removed_total, 1);
        // Its voice bridge went with it.
        let by_voice_bridge = pool.store.meeting_by_voice_bridge(&ends.voice_bridge).await;
        assert!(matches!(by_voice_bridge, Err(StoreError::NotFound(_))), "{by_voice_bridge:?}");
    }

    async fn a_failed_poll_or_the_time_grace_keeps_missing_meetings(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        pool.place("m", "bbb-1", HOUR).await;
        let poller = pool.poller(PollSettings { unhealthy_threshold: 5, ..settings() });
        poller.poll_once().await.unwrap();
        // A failed poll says nothing about the meeting: the count starts again.
        fake.set_fault(Fault::Refuse).await.unwrap();
        poller.poll_once().await.unwrap();
        fake.set_fault(Fault::Normal).await.unwrap();
        poller.poll_once().await.unwrap();
        assert!(pool.meeting_exists("m").await);
        poller.poll_once().await.unwrap();
        assert!(!pool.meeting_exists("m").await);

        // With a time grace longer than the test, a missing meeting stays however many cycles pass.
        pool.place("m", "bbb-1", HOUR).await;
        let patient = pool.poller(PollSettings { ended_grace: Some(HOUR), ..settings() });
        for _ in 0..4 {
            let report = patient.poll_once().await.unwrap();
            assert!(report.meetings_removed.is_empty(), "{report:?}");
        }
        assert!(pool.meeting_exists("m").await);
    }

    async fn the_missing_count_is_shared_by_every_poller_through_the_store(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        pool.place("ended", "bbb-1", HOUR).await;
        // One poller (a one-off run, say) finds it missing; another poller process finds it missing again.
        let report = pool.poller(settings()).poll_once().await.unwrap();
        assert!(report.meetings_removed.is_empty(), "{report:?}");
        assert!(pool.store.missing_meetings().await.unwrap().contains_key("ended"), "marked in the store");
        let report = pool.poller(settings()).poll_once().await.unwrap();
        assert_eq!(report.meetings_removed, ["ended"]);
        assert!(pool.store.missing_meetings().await.unwrap().is_empty(), "the mark goes with the meeting");
    }

    async fn a_mark_older_than_the_window_starts_the_count_again(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        pool.place("m", "bbb-1", HOUR).await;
        let settings = settings();
        let window = settings.mark_window(Duration::ZERO);
        // A mark left long ago (by a run days before, say): it says nothing about the meeting now.
        let long_ago = i64::try_from(now_ms()).unwrap() - i64::try_from(window.as_millis()).unwrap() - 60_000;
        pool.store.update_missing_meetings(&[("m".to_owned(), long_ago)], &[]).await.unwrap();
        let poller = pool.poller(settings);
        let report = poller.poll_once().await.unwrap();
        assert!(report.meetings_removed.is_empty(), "a stale mark must not forget the meeting: {report:?}");
        assert!(pool.meeting_exists("m").await);
        let marks = pool.store.missing_meetings().await.unwrap();
        assert!(marks["m"] > long_ago, "marked afresh: {marks:?}");
        // Seen running: the mark goes; missing twice from then on: forgotten.
        fake.seed_meeting(seed("m", 1, 1)).unwrap();
        poller.poll_once().await.unwrap();
        assert!(pool.store.missing_meetings().await.unwrap().is_empty());
        assert!(fake.remove_meeting("m"));
        poller.poll_once().await.unwrap();
        assert!(pool.meeting_exists("m").await);
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.meetings_removed, ["m"]);
    }

    async fn a_meeting_created_between_two_polls_survives(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        let poller = pool.poller(settings());
        poller.poll_once().await.unwrap();

        // The API records the meeting, then its create is still on the way to the server.
        pool.place("new", "bbb-1", HOUR).await;
        let report = poller.poll_once().await.unwrap();
        assert!(report.meetings_removed.is_empty());
        assert!(pool.meeting_exists("new").await);
        // The create arrives: the meeting is reported from now on and stays.
        fake.seed_meeting(seed("new", 1, 1)).unwrap();
        for _ in 0..3 {
            let report = poller.poll_once().await.unwrap();
            assert_eq!(report.meetings_refreshed, 1);
        }
        assert!(pool.meeting_exists("new").await);
        assert_eq!(pool.server("bbb-1").await.load, Some(15.0), "young meeting: LOAD_MIN_USER_COUNT");
    }

    async fn reported_meetings_get_their_ttl_refreshed(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fake = pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        // Both records would expire in two seconds; only the running one is refreshed.
        pool.place("running", "bbb-1", Duration::from_secs(2)).await;
        pool.place("unreported", "bbb-1", Duration::from_secs(2)).await;
        fake.seed_meeting(seed("running", 2, 1)).unwrap();
        let poller = pool.poller(PollSettings { meeting_ttl: HOUR, ..settings() });
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.meetings_refreshed, 1);
        eventually("the unrefreshed record expires", || async { !pool.meeting_exists("unreported").await }).await;
        assert!(pool.meeting_exists("running").await, "refreshed to DEFAULT_MEETING_TTL");
        // The expired record leaves nothing behind in the meeting list.
        poller.poll_once().await.unwrap();
        let ids: Vec<String> = pool.store.list_meetings().await.unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["running"]);
    }

    async fn meetings_of_a_removed_server_are_forgotten(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        pool.add("gone", ServerState::Enabled, 1.0).await;
        pool.add("stays", ServerState::Enabled, 1.0).await;
        pool.place("orphan", "gone", HOUR).await;
        pool.store.delete_server("gone").await.unwrap();
        let poller = pool.poller(settings());
        poller.poll_once().await.unwrap();
        assert!(pool.meeting_exists("orphan").await);
        let report = poller.poll_once().await.unwrap();
        assert_eq!(report.meetings_removed, ["orphan"]);
        assert!(!pool.meeting_exists("orphan").await);
    }

    async fn a_hung_server_does_not_hold_up_the_others(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let hung = pool.add("hung", ServerState::Enabled, 1.0).await;
        let a = pool.add("a", ServerState::Enabled, 1.0).await;
        let b = pool.add("b", ServerState::Enabled, 1.0).await;
        a.seed_meeting(old("ma", 3, 1)).unwrap();
        b.seed_meeting(old("mb", 5, 1)).unwrap();
        hung.seed_meeting(old("mh", 7, 1)).unwrap();
        hung.set_fault(Fault::Hang).await.unwrap();
        // The BBB client alone would wait a minute; POLLER_WAIT_TIMEOUT cuts the hung server off much earlier.
        // One server at a time, so without that bound the others would wait behind it.
        let poller = Poller::new(
            pool.store.clone(),
            bbb_client(Duration::from_secs(60)),
            PollSettings { server_timeout: Duration::from_secs(3), concurrency: 1, ..settings() },
        );
        let report = tokio::time::timeout(Duration::from_secs(30), poller.poll_once())
            .await
            .expect("the cycle ends long before the BBB client's own timeout")
            .unwrap();
        assert_eq!(report.servers_failed, ["hung"]);
        assert_eq!((report.servers_online, report.servers_offline), (3, 0));
        assert_eq!(pool.server("a").await.load, Some(3.0));
        assert_eq!(pool.server("b").await.load, Some(5.0));
        let server = pool.server("hung").await;
        assert!(server.online, "one failure is below SERVER_UNHEALTHY_THRESHOLD");
        assert_eq!(server.unhealthy_counter, 1);
        assert_eq!(get_meetings_calls(&hung), 1);
        let metrics = poller.metrics();
        assert_eq!(metrics.servers["hung"].errors_total, 1);
        assert!(metrics.servers["hung"].last_poll_failed);
        assert_eq!(metrics.servers["a"].errors_total, 0);
    }

    async fn one_of_two_pollers_polls_and_the_other_takes_over(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let fakes = [pool.add("bbb-1", ServerState::Enabled, 1.0).await, pool.add("bbb-2", ServerState::Enabled, 1.0).await];
        let (first, second) = (pool.poller(settings()), pool.poller(settings()));
        let (stop_first, stop_second) = (CancellationToken::new(), CancellationToken::new());
        let first_task = tokio::spawn({
            let (poller, stop) = (first.clone(), stop_first.clone());
            async move { poller.run("first", stop).await }
        });
        eventually("the first poller is active", || async { first.metrics().cycles_total >= 1 }).await;
        let second_task = tokio::spawn({
            let (poller, stop) = (second.clone(), stop_second.clone());
            async move { poller.run("second", stop).await }
        });
        eventually("the first poller has run a few more cycles", || async { first.metrics().cycles_total >= 4 }).await;
        assert_eq!(second.metrics().cycles_total, 0, "the standby never polls");
        assert!(!second.metrics().active && first.metrics().active);
        // One getMeetings per server per cycle, all from the active poller (one may be in flight).
        for fake in &fakes {
            let before = first.metrics().cycles_total as usize;
            let calls = get_meetings_calls(fake);
            let after = first.metrics().cycles_total as usize;
            assert!(before <= calls && calls <= after + 1, "{calls} getMeetings for {before}..={after} cycles");
        }

        // The active poller stops cleanly (finishing its cycle); the standby takes over.
        stop_first.cancel();
        first_task.await.unwrap();
        let first_cycles = first.metrics().cycles_total;
        assert!(!first.metrics().active);
        eventually("the standby takes over", || async { second.metrics().cycles_total >= 2 }).await;
        assert_eq!(first.metrics().cycles_total, first_cycles);
        assert!(second.metrics().active);
        for fake in &fakes {
            assert!(get_meetings_calls(fake) >= first_cycles as usize + 2);
        }
        stop_second.cancel();
        second_task.await.unwrap();
    }

    async fn a_standby_takes_over_when_the_lease_of_a_dead_poller_expires(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        pool.add("bbb-1", ServerState::Enabled, 1.0).await;
        let (first, second) = (pool.poller(settings()), pool.poller(settings()));
        let stop = CancellationToken::new();
        let first_task = tokio::spawn({
            let (poller, stop) = (first.clone(), stop.clone());
            async move { poller.run("first", stop).await }
        });
        eventually("the first poller is active", || async { first.metrics().cycles_total >= 1 }).await;
        let second_task = tokio::spawn({
            let (poller, stop) = (second.clone(), stop.clone());
            async move { poller.run("second", stop).await }
        });
        // The standby tries the lease as soon as it starts; let the active poller run two more cycles meanwhile.
        let cycles = first.metrics().cycles_total;
        eventually("the first poller keeps polling", || async { first.metrics().cycles_total >= cycles + 2 }).await;
        assert_eq!(second.metrics().cycles_total, 0);

        // The active poller dies without giving the lease up; it expires and the standby polls.
        first_task.abort();
        let _ = first_task.await;
        eventually("the standby takes over after the lease expired", || async {
            second.metrics().cycles_total >= 1
        })
        .await;
        assert!(second.metrics().active);
        stop.cancel();
        second_task.await.unwrap();
    }

    async fn shutdown_lets_the_cycle_in_progress_finish(backend: Backend) {
        let mut pool = Pool::new(backend).await;
        let slow = pool.add("slow", ServerState::Enabled, 1.0).await;
        slow.seed_meeting(old("m", 6, 1)).unwrap();
        pool.place("m", "slow", HOUR).await;
        slow.set_fault(Fault::Delay(Duration::from_millis(700))).await.unwrap();
        let poller = pool.poller(settings());
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (poller, stop) = (poller.clone(), stop.clone());
            async move { poller.run("only", stop).await }
        });
        eventually("a cycle is under way", || async { get_meetings_calls(&slow) >= 1 }).await;
        stop.cancel();
        task.await.unwrap();

        // The answer that was on its way when shutdown came was still written.
        assert_eq!(poller.metrics().cycles_total, 1);
        assert_eq!(get_meetings_calls(&slow), 1, "no new cycle after shutdown");
        let server = pool.server("slow").await;
        assert_eq!(server.load, Some(6.0));
        assert_eq!(server.stats.meetings, 1);
        // And the lease was given up: another poller can start at once.
        assert!(pool.store.try_lease(LEASE_NAME, "next", Duration::from_secs(5)).await.unwrap());
    }
}
