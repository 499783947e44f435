//! Counters of one importer, read as a [`MetricsSnapshot`] (no global recorder: whoever exposes metrics asks the
//! context).
//!
//! [`registry`] turns a snapshot into Prometheus metrics (a fresh registry per scrape), [`render`] into OpenMetrics
//! text, and [`serve`] answers `GET /metrics` for the standalone binary (`METRICS_BIND`). Every name starts with
//! `scalelite_importer_`; there are no labels.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use scalelite_core::metrics_listener;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::ImportContext;

/// The OpenMetrics content type Prometheus asks for.
pub use scalelite_core::metrics_listener::CONTENT_TYPE;

/// A consistent-enough copy of the importer's counters (each read atomically on its own).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Archives imported (and removed from the spool) since start.
    pub imports_done: u64,
    /// Recordings written by those imports.
    pub recordings_imported: u64,
    /// Archives that could not be imported and were moved to `failed/`.
    pub imports_failed: u64,
    /// Import attempts that hit a storage or filesystem error; the archive stays in the spool and is retried.
    pub import_errors: u64,
    /// Archives waiting in the spool: the count of the last scan, minus those dealt with since.
    pub queue_depth: u64,
    /// When the last archive was imported.
    pub last_import: Option<SystemTime>,
    /// Recording-ready callbacks answered with success (or a final 404/410).
    pub callbacks_sent: u64,
    /// Recording-ready callbacks given up on.
    pub callbacks_failed: u64,
    /// Whether this importer held the `importer` lease at its last attempt (the daemon; false otherwise).
    pub active: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    imports_done: AtomicU64,
    recordings_imported: AtomicU64,
    imports_failed: AtomicU64,
    import_errors: AtomicU64,
    queue_depth: AtomicU64,
    /// Milliseconds since the epoch; 0 when nothing was imported yet.
    last_import_ms: AtomicU64,
    callbacks_sent: AtomicU64,
    callbacks_failed: AtomicU64,
    active: AtomicBool,
}

impl Metrics {
    pub(crate) fn imported(&self, recordings: usize) {
        self.imports_done.fetch_add(1, Ordering::Relaxed);
        self.recordings_imported
            .fetch_add(recordings as u64, Ordering::Relaxed);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| {
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        self.last_import_ms.store(now, Ordering::Relaxed);
        self.dequeued();
    }

    pub(crate) fn failed(&self) {
        self.imports_failed.fetch_add(1, Ordering::Relaxed);
        self.dequeued();
    }

    pub(crate) fn error(&self) {
        self.import_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    pub(crate) fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.store(depth as u64, Ordering::Relaxed);
    }

    fn dequeued(&self) {
        // Saturating: an import_one outside a scan has no queue entry to take off.
        let _ = self
            .queue_depth
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(1))
            });
    }

    pub(crate) fn callback_sent(&self) {
        self.callbacks_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn callback_failed(&self) {
        self.callbacks_failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let last = self.last_import_ms.load(Ordering::Relaxed);
        MetricsSnapshot {
            imports_done: self.imports_done.load(Ordering::Relaxed),
            recordings_imported: self.recordings_imported.load(Ordering::Relaxed),
            imports_failed: self.imports_failed.load(Ordering::Relaxed),
            import_errors: self.import_errors.load(Ordering::Relaxed),
            queue_depth: self.queue_depth.load(Ordering::Relaxed),
            last_import: (last > 0).then(|| UNIX_EPOCH + Duration::from_millis(last)),
            callbacks_sent: self.callbacks_sent.load(Ordering::Relaxed),
            callbacks_failed: self.callbacks_failed.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
        }
    }
}

/// A fresh registry holding `snapshot` as Prometheus metrics: `scalelite_importer_imports_done_total`,
/// `_imports_failed_total`, `_import_errors_total`, `_recordings_imported_total`, `_queue_depth`,
/// `_last_import_timestamp_seconds` (absent until something was imported), `_callbacks_sent_total` and
/// `_callbacks_failed_total`, and `_active` (1 while this importer holds the `importer` lease).
pub fn registry(snapshot: &MetricsSnapshot) -> Registry {
    let mut registry = Registry::with_prefix("scalelite_importer");
    for (name, help, value) in [
        (
            "imports_done",
            "Archives imported and removed from the spool",
            snapshot.imports_done,
        ),
        (
            "imports_failed",
            "Archives that could not be imported and were moved to failed/",
            snapshot.imports_failed,
        ),
        (
            "import_errors",
            "Import attempts that hit a storage or filesystem error (the archive is retried)",
            snapshot.import_errors,
        ),
        (
            "recordings_imported",
            "Recordings written by the imports",
            snapshot.recordings_imported,
        ),
        (
            "callbacks_sent",
            "Recording-ready callbacks answered with success (or a final 404/410)",
            snapshot.callbacks_sent,
        ),
        (
            "callbacks_failed",
            "Recording-ready callbacks given up on",
            snapshot.callbacks_failed,
        ),
    ] {
        registry.register(name, help, ConstCounter::new(value));
    }
    registry.register(
        "active",
        "Whether this importer held the importer lease at its last attempt (1) or not (0)",
        ConstGauge::new(i64::from(snapshot.active)),
    );
    registry.register(
        "queue_depth",
        "Archives waiting in the spool",
        ConstGauge::new(i64::try_from(snapshot.queue_depth).unwrap_or(i64::MAX)),
    );
    if let Some(last) = snapshot.last_import {
        let seconds = last
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        registry.register_with_unit(
            "last_import_timestamp",
            "When the last archive was imported (Unix time)",
            Unit::Seconds,
            ConstGauge::new(seconds),
        );
    }
    registry
}

/// `snapshot` as OpenMetrics text, ending with `# EOF`.
pub fn render(snapshot: &MetricsSnapshot) -> Result<String, fmt::Error> {
    let mut body = String::new();
    encode_registry(&mut body, &registry(snapshot))?;
    encode_eof(&mut body)?;
    Ok(body)
}

/// Serve `GET /metrics` (the metrics of `ctx`) on `listener` until `shutdown` is cancelled, with the listener every
/// standalone service shares (`scalelite_core::metrics_listener`).
pub async fn serve(
    listener: TcpListener,
    ctx: ImportContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    metrics_listener::serve(listener, move || render(&ctx.metrics()), shutdown).await
}

#[cfg(test)]
mod tests;
