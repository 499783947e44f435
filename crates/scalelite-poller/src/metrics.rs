//! What the poller has done, as plain data: `Poller::metrics()` returns a [`PollerMetrics`] snapshot that the API's
//! `/metrics` renders (DECISIONS.md: poll cycle duration, servers online/offline, per-server state and errors).
//! There is no global recorder: each `Poller` owns its figures, updated at the end of every cycle.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use scalelite_core::domain::ServerStats;

use crate::CycleReport;

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

#[cfg(test)]
mod tests;
