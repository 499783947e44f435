use std::time::{Duration, SystemTime};

use scalelite_core::domain::ServerStats;

use crate::CycleReport;
use crate::metrics::{PollerMetrics, ServerSample};

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
