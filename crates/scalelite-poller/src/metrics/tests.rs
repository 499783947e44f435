use std::time::{Duration, SystemTime};

use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::domain::ServerStats;
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use tokio_util::sync::CancellationToken;

use crate::metrics::{CONTENT_TYPE, PollerMetrics, ServerMetrics, ServerSample, render, serve};
use crate::{CycleReport, PollSettings, Poller};

fn sample(id: &str, online: bool, failed: bool) -> ServerSample {
    ServerSample {
        id: id.into(),
        online,
        failed,
        duration: Duration::from_millis(5),
        load: online.then_some(3.0),
        stats: ServerStats {
            meetings: 1,
            ..ServerStats::default()
        },
    }
}

#[test]
fn cycles_accumulate_and_per_server_errors_are_totals() {
    let mut metrics = PollerMetrics::default();
    let report = CycleReport {
        servers_polled: 2,
        servers_online: 1,
        servers_offline: 1,
        servers_failed: vec!["b".into()],
        duration: Duration::from_millis(40),
        ..CycleReport::default()
    };
    let t = SystemTime::UNIX_EPOCH;
    metrics.record_cycle(
        &report,
        vec![sample("a", true, false), sample("b", false, true)],
        t,
    );
    let report = CycleReport {
        servers_panicked: vec!["b".into()],
        meetings_removed: vec!["m1".into(), "m2".into()],
        servers_not_updated: vec!["c".into()],
        duration: Duration::from_millis(60),
        ..report
    };
    metrics.record_cycle(
        &report,
        vec![sample("a", true, true), sample("b", false, true)],
        t,
    );

    assert_eq!(metrics.cycles_total, 2);
    assert_eq!(metrics.cycle_failures_total, 0);
    assert_eq!(metrics.cycle_duration_total, Duration::from_millis(100));
    assert_eq!(metrics.last_cycle_duration, Some(Duration::from_millis(60)));
    assert_eq!((metrics.servers_online, metrics.servers_offline), (1, 1));
    assert_eq!(metrics.servers_panicked_total, 1);
    assert_eq!(metrics.meetings_removed_total, 2);
    assert_eq!(metrics.store_errors_total, 1);
    let a = &metrics.servers["a"];
    assert_eq!(
        (a.errors_total, a.last_poll_failed, a.online, a.load),
        (1, true, true, Some(3.0))
    );
    let b = &metrics.servers["b"];
    assert_eq!((b.errors_total, b.online, b.load), (2, false, None));
}

#[test]
fn removed_servers_drop_out_and_failed_cycles_count() {
    let mut metrics = PollerMetrics::default();
    let t = SystemTime::UNIX_EPOCH;
    metrics.record_cycle(&CycleReport::default(), vec![sample("a", true, true)], t);
    metrics.record_cycle(&CycleReport::default(), vec![sample("b", true, false)], t);
    assert_eq!(metrics.servers.keys().collect::<Vec<_>>(), ["b"]);
    // "b" could not be updated this time: its figures stay.
    let not_updated = CycleReport {
        servers_not_updated: vec!["b".into()],
        ..CycleReport::default()
    };
    metrics.record_cycle(&not_updated, vec![], t);
    assert_eq!(metrics.servers.keys().collect::<Vec<_>>(), ["b"]);
    metrics.record_failed_cycle(Duration::from_secs(1), t);
    assert_eq!((metrics.cycles_total, metrics.cycle_failures_total), (4, 1));
    assert_eq!(metrics.last_cycle_duration, Some(Duration::from_secs(1)));
    // A failed cycle leaves the last known per-server figures alone.
    assert!(metrics.servers.contains_key("b"));
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn render_shows_the_snapshot_values() {
    let mut servers = std::collections::BTreeMap::new();
    servers.insert(
        "a".to_owned(),
        ServerMetrics {
            online: true,
            errors_total: 3,
            last_poll_failed: false,
            last_poll_duration: Duration::from_millis(250),
            ..ServerMetrics::default()
        },
    );
    servers.insert(
        "b".to_owned(),
        ServerMetrics {
            errors_total: 7,
            last_poll_failed: true,
            last_poll_duration: Duration::from_millis(1500),
            ..ServerMetrics::default()
        },
    );
    let snapshot = PollerMetrics {
        active: true,
        cycles_total: 4,
        cycle_failures_total: 1,
        cycle_duration_total: Duration::from_millis(2500),
        last_cycle_duration: Some(Duration::from_millis(500)),
        last_cycle_end: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        servers_polled: 2,
        servers_online: 1,
        servers_offline: 1,
        servers_panicked_total: 5,
        meetings_removed_total: 6,
        stray_meetings_ended_total: 3,
        store_errors_total: 2,
        servers,
    };
    let text = render(&snapshot).unwrap();
    let lines = lines(&text);
    for expected in [
        "scalelite_poller_active 1",
        "# TYPE scalelite_poller_cycles counter",
        "scalelite_poller_cycles_total 4",
        "scalelite_poller_cycle_failures_total 1",
        "scalelite_poller_cycle_duration_seconds_sum 2.5",
        "scalelite_poller_cycle_duration_seconds_count 4",
        "scalelite_poller_cycle_duration_seconds_bucket{le=\"+Inf\"} 4",
        "scalelite_poller_last_cycle_duration_seconds 0.5",
        "scalelite_poller_last_cycle_end_timestamp_seconds 1700000000.0",
        "scalelite_poller_servers_polled 2",
        "scalelite_poller_servers_online 1",
        "scalelite_poller_servers_offline 1",
        "scalelite_poller_servers_panicked_total 5",
        "scalelite_poller_meetings_removed_total 6",
        "scalelite_poller_stray_meetings_ended_total 3",
        "scalelite_poller_store_errors_total 2",
        "scalelite_poller_server_errors_total{server=\"a\"} 3",
        "scalelite_poller_server_errors_total{server=\"b\"} 7",
        "scalelite_poller_server_last_poll_failed{server=\"a\"} 0",
        "scalelite_poller_server_last_poll_failed{server=\"b\"} 1",
        "scalelite_poller_server_last_poll_duration_seconds{server=\"a\"} 0.25",
        "scalelite_poller_server_last_poll_duration_seconds{server=\"b\"} 1.5",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected:?} missing in:\n{text}"
        );
    }
    assert_eq!(lines.last(), Some(&"# EOF"));
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn a_poller_that_never_ran_has_zero_totals_and_no_last_cycle() {
    let text = render(&PollerMetrics::default()).unwrap();
    let lines = lines(&text);
    assert!(lines.contains(&"scalelite_poller_active 0"));
    assert!(lines.contains(&"scalelite_poller_cycles_total 0"));
    assert!(lines.contains(&"scalelite_poller_cycle_duration_seconds_count 0"));
    assert!(!text.contains("scalelite_poller_last_cycle_duration_seconds "));
    assert!(!text.contains("scalelite_poller_last_cycle_end_timestamp_seconds "));
    assert!(!text.contains("server=\""));
}

#[tokio::test]
async fn the_listener_serves_the_pollers_metrics_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::Embedded(
        SqliteStore::open(&dir.path().join("metrics.sqlite3"))
            .await
            .unwrap(),
    );
    let bbb = BbbClient::new(
        Timeouts {
            connect: Duration::from_secs(1),
            response: Duration::from_secs(1),
        },
        Algorithm::Sha256,
    );
    let poller = Poller::new(store, bbb, PollSettings::default());
    poller.poll_once().await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(serve(listener, poller, shutdown.clone()));

    let http = reqwest::Client::new();
    let response = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        CONTENT_TYPE
    );
    let body = response.text().await.unwrap();
    assert!(
        body.lines()
            .any(|line| line == "scalelite_poller_cycles_total 1"),
        "{body}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let other = http.get(format!("http://{addr}/")).send().await.unwrap();
    assert_eq!(other.status(), 404);

    shutdown.cancel();
    server.await.unwrap().unwrap();
    assert!(
        http.get(format!("http://{addr}/metrics"))
            .send()
            .await
            .is_err(),
        "the listener is closed after shutdown"
    );
}
