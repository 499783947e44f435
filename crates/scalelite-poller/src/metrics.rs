//! What the poller has done, as plain data: `Poller::metrics()` returns a [`PollerMetrics`] snapshot that the API's
//! `/metrics` renders (`docs/compatibility.md#metrics`: poll cycle duration, servers online/offline, per-server state
//! and errors). There is no global recorder: each `Poller` owns its figures, updated at the end of every cycle.
//!
//! [`registry`] turns a snapshot into Prometheus metrics (a fresh registry per scrape), [`render`] into OpenMetrics
//! text, and [`serve`] answers `GET /metrics` for the standalone binary (`METRICS_BIND`). Every name starts with
//! `scalelite_poller_`; the only label is `server` (a server id), so cardinality is bounded by the pool.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::registry::{Registry, Unit};
use scalelite_core::domain::ServerStats;
use scalelite_core::metrics_listener;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{CycleReport, Poller};

/// The OpenMetrics content type Prometheus asks for.
pub use scalelite_core::metrics_listener::CONTENT_TYPE;

/// A snapshot of one poller's figures. Totals count since this `Poller` was created; the other fields describe the
/// last finished cycle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollerMetrics {
    /// Whether this poller held the poller lease at its last attempt (only `Poller::run` takes the lease; a poller
    /// driven by `poll_once` alone reports `false`).
    pub active: bool,
    /// Cycles finished, failed ones included.
    pub cycles_total: u64,
    /// Cycles that stopped early because the store failed (their figures are not recorded below).
    pub cycle_failures_total: u64,
    /// Sum of the durations of every cycle (with `cycles_total`, a Prometheus summary).
    pub cycle_duration_total: Duration,
    /// Duration of the last cycle.
    pub last_cycle_duration: Option<Duration>,
    /// When the last cycle ended (wall clock).
    pub last_cycle_end: Option<SystemTime>,
    /// Servers polled in the last successful cycle.
    pub servers_polled: usize,
    /// Servers online after the last successful cycle.
    pub servers_online: usize,
    /// Servers offline after the last successful cycle.
    pub servers_offline: usize,
    /// Servers that went offline (and were panicked), in total.
    pub servers_panicked_total: u64,
    /// Meetings forgotten because no server reports them any more, in total.
    pub meetings_removed_total: u64,
    /// Stray meetings ended (created by a server after the API had given up on it), in total.
    pub stray_meetings_ended_total: u64,
    /// Server updates that failed because the store did, in total.
    pub store_errors_total: u64,
    /// Per server (by id) as of the last successful cycle; a server removed from the pool drops out, one the store
    /// failed to update keeps its previous figures.
    pub servers: BTreeMap<String, ServerMetrics>,
}

/// One server as the poller last saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerMetrics {
    /// Online after the last cycle.
    pub online: bool,
    /// Polls of this server that failed (no answer in time, not a BBB document, `FAILED`), in total.
    pub errors_total: u64,
    /// Whether the last poll failed.
    pub last_poll_failed: bool,
    /// How long the last poll of this server took (its BBB calls and store writes).
    pub last_poll_duration: Duration,
    /// Load after the last cycle (`None`: offline, disabled, or not known).
    pub load: Option<f64>,
    /// Statistics after the last cycle.
    pub stats: ServerStats,
}

/// What one server's poll contributes to the metrics.
#[derive(Clone, Debug)]
pub(crate) struct ServerSample {
    pub(crate) id: String,
    pub(crate) online: bool,
    pub(crate) failed: bool,
    pub(crate) duration: Duration,
    pub(crate) load: Option<f64>,
    pub(crate) stats: ServerStats,
}

impl PollerMetrics {
    /// Account for a finished cycle and the servers it polled.
    pub(crate) fn record_cycle(
        &mut self,
        report: &CycleReport,
        samples: Vec<ServerSample>,
        ended: SystemTime,
    ) {
        self.count_cycle(report.duration, ended);
        self.servers_polled = report.servers_polled;
        self.servers_online = report.servers_online;
        self.servers_offline = report.servers_offline;
        self.servers_panicked_total += report.servers_panicked.len() as u64;
        self.meetings_removed_total += report.meetings_removed.len() as u64;
        self.stray_meetings_ended_total += report.stray_meetings_ended.len() as u64;
        self.store_errors_total += report.servers_not_updated.len() as u64;
        let mut previous = std::mem::take(&mut self.servers);
        for sample in samples {
            let errors_before = previous.remove(&sample.id).map_or(0, |m| m.errors_total);
            self.servers.insert(
                sample.id,
                ServerMetrics {
                    online: sample.online,
                    errors_total: errors_before + u64::from(sample.failed),
                    last_poll_failed: sample.failed,
                    last_poll_duration: sample.duration,
                    load: sample.load,
                    stats: sample.stats,
                },
            );
        }
        // A server the store failed to update keeps its last figures (and its error count).
        for id in &report.servers_not_updated {
            if let Some(kept) = previous.remove(id) {
                self.servers.insert(id.clone(), kept);
            }
        }
    }

    /// Account for a cycle the store cut short.
    pub(crate) fn record_failed_cycle(&mut self, duration: Duration, ended: SystemTime) {
        self.count_cycle(duration, ended);
        self.cycle_failures_total += 1;
    }

    fn count_cycle(&mut self, duration: Duration, ended: SystemTime) {
        self.cycles_total += 1;
        self.cycle_duration_total += duration;
        self.last_cycle_duration = Some(duration);
        self.last_cycle_end = Some(ended);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServerLabels {
    server: String,
}

/// A duration summary from a sum and a count only: encoded as a histogram with the single `+Inf` bucket
/// (prometheus-client has no summary type), so `rate(..._sum) / rate(..._count)` is the mean.
#[derive(Debug)]
struct SumCount {
    sum: f64,
    count: u64,
}

impl EncodeMetric for SumCount {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
        encoder.encode_histogram::<NoLabelSet>(
            self.sum,
            self.count,
            &[(f64::INFINITY, self.count)],
            None::<&HashMap<usize, Exemplar<NoLabelSet, f64>>>,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn unix_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// A fresh registry holding `snapshot` as Prometheus metrics: `scalelite_poller_active`, `_cycles_total`,
/// `_cycle_failures_total`, `_cycle_duration_seconds` (sum and count), `_last_cycle_duration_seconds`,
/// `_last_cycle_end_timestamp_seconds`, `_servers_polled`, `_servers_online`, `_servers_offline`,
/// `_servers_panicked_total`, `_meetings_removed_total`, `_stray_meetings_ended_total`, `_store_errors_total`, and per server
/// `_server_errors_total`, `_server_last_poll_failed`, `_server_last_poll_duration_seconds`.
pub fn registry(snapshot: &PollerMetrics) -> Registry {
    let mut registry = Registry::with_prefix("scalelite_poller");
    registry.register(
        "active",
        "Whether this poller held the poller lease at its last attempt (1) or not (0)",
        ConstGauge::new(i64::from(snapshot.active)),
    );
    registry.register(
        "cycles",
        "Poll cycles finished, failed ones included",
        ConstCounter::new(snapshot.cycles_total),
    );
    registry.register(
        "cycle_failures",
        "Poll cycles the store cut short",
        ConstCounter::new(snapshot.cycle_failures_total),
    );
    registry.register_with_unit(
        "cycle_duration",
        "Duration of the poll cycles (sum and count)",
        Unit::Seconds,
        SumCount {
            sum: snapshot.cycle_duration_total.as_secs_f64(),
            count: snapshot.cycles_total,
        },
    );
    if let Some(last) = snapshot.last_cycle_duration {
        registry.register_with_unit(
            "last_cycle_duration",
            "Duration of the last poll cycle",
            Unit::Seconds,
            ConstGauge::new(last.as_secs_f64()),
        );
    }
    if let Some(ended) = snapshot.last_cycle_end {
        registry.register_with_unit(
            "last_cycle_end_timestamp",
            "When the last poll cycle ended (Unix time)",
            Unit::Seconds,
            ConstGauge::new(unix_seconds(ended)),
        );
    }
    for (name, help, value) in [
        (
            "servers_polled",
            "Servers polled in the last successful cycle",
            snapshot.servers_polled,
        ),
        (
            "servers_online",
            "Servers online after the last successful cycle",
            snapshot.servers_online,
        ),
        (
            "servers_offline",
            "Servers offline after the last successful cycle",
            snapshot.servers_offline,
        ),
    ] {
        registry.register(
            name,
            help,
            ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)),
        );
    }
    registry.register(
        "servers_panicked",
        "Servers that went offline and were panicked",
        ConstCounter::new(snapshot.servers_panicked_total),
    );
    registry.register(
        "meetings_removed",
        "Meetings forgotten because no server reports them any more",
        ConstCounter::new(snapshot.meetings_removed_total),
    );
    registry.register(
        "stray_meetings_ended",
        "Meetings a server created after the API had given up on it, ended because nobody joined them",
        ConstCounter::new(snapshot.stray_meetings_ended_total),
    );
    registry.register(
        "store_errors",
        "Server updates that failed because the store did",
        ConstCounter::new(snapshot.store_errors_total),
    );

    let errors = Family::<ServerLabels, Counter>::default();
    let last_failed = Family::<ServerLabels, Gauge>::default();
    let last_duration = Family::<ServerLabels, Gauge<f64, AtomicU64>>::default();
    for (id, server) in &snapshot.servers {
        let labels = ServerLabels { server: id.clone() };
        errors.get_or_create(&labels).inc_by(server.errors_total);
        last_failed
            .get_or_create(&labels)
            .set(i64::from(server.last_poll_failed));
        last_duration
            .get_or_create(&labels)
            .set(server.last_poll_duration.as_secs_f64());
    }
    registry.register(
        "server_errors",
        "Polls of the server that failed (no answer in time, not a BBB document, FAILED)",
        errors,
    );
    registry.register(
        "server_last_poll_failed",
        "Whether the last poll of the server failed (1) or not (0)",
        last_failed,
    );
    registry.register_with_unit(
        "server_last_poll_duration",
        "Duration of the last poll of the server (its BBB calls and store writes)",
        Unit::Seconds,
        last_duration,
    );
    registry
}

/// `snapshot` as OpenMetrics text, ending with `# EOF`.
pub fn render(snapshot: &PollerMetrics) -> Result<String, fmt::Error> {
    let mut body = String::new();
    encode_registry(&mut body, &registry(snapshot))?;
    encode_eof(&mut body)?;
    Ok(body)
}

/// Serve `GET /metrics` (the metrics of `poller`) on `listener` until `shutdown` is cancelled, with the listener every
/// standalone service shares (`scalelite_core::metrics_listener`).
pub async fn serve(
    listener: TcpListener,
    poller: Poller,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    metrics_listener::serve(listener, move || render(&poller.metrics()), shutdown).await
}

#[cfg(test)]
mod tests;
