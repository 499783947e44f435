//! Shared state of every handler: settings, the store, the BBB client, the client for other outbound HTTP
//! (callbacks, Keycloak), the request metrics and, in all-in-one mode, the poller and importer whose metrics
//! `/metrics` adds. Cheap to clone.

use std::sync::Arc;

use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::storage::store::Store;
use scalelite_poller::Poller;
use scalelite_recording_importer::ImportContext;
use tokio::sync::Semaphore;

use crate::behind::WritesBehind;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// One reference-counted handle: every layer of every request clones the state (axum's `State`), and cloning a
/// struct of a dozen `Arc`s, and dropping it, was a dozen atomic operations on counters both cores share, each
/// time (4-5% of the machine under load, `perf record -a`).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub bbb: BbbClient,
    /// Outbound HTTP that is not a BBB call: the analytics callback relay and the LRS token fetch.
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
    /// One permit per request being handled (`MAX_CONCURRENT_REQUESTS`).
    pub in_flight: Arc<Semaphore>,
    /// The poller running in this process (all-in-one), whose metrics `/metrics` adds.
    pub poller: Option<Poller>,
    /// The recording importer running in this process (all-in-one), whose metrics `/metrics` adds.
    pub importer: Option<ImportContext>,
    /// Writes made after their request's answer, which shutdown waits for.
    pub behind: Arc<WritesBehind>,
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        let timeouts = Timeouts {
            connect: settings.connect_timeout,
            response: settings.response_timeout,
        };
        let bbb = BbbClient::new(timeouts, settings.checksum_algorithms.outbound())
            .with_max_response_size(settings.bbb_max_response_bytes);
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.connect_timeout + settings.response_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Only a broken TLS back-end makes this fail; fall back to the defaults rather than refuse to start.
            .unwrap_or_default();
        let in_flight = Arc::new(Semaphore::new(
            settings
                .max_concurrent_requests
                .clamp(1, Semaphore::MAX_PERMITS),
        ));
        Self(Arc::new(Shared {
            settings: Arc::new(settings),
            store,
            bbb,
            http,
            metrics: Arc::new(Metrics::default()),
            in_flight,
            poller: None,
            importer: None,
            behind: Arc::new(WritesBehind::default()),
        }))
    }

    /// Expose the metrics of `poller` (running in this process) at `/metrics` too.
    #[must_use]
    pub fn with_poller(mut self, poller: Poller) -> Self {
        Arc::make_mut(&mut self.0).poller = Some(poller);
        self
    }

    /// Expose the metrics of `importer` (running in this process) at `/metrics` too.
    #[must_use]
    pub fn with_importer(mut self, importer: ImportContext) -> Self {
        Arc::make_mut(&mut self.0).importer = Some(importer);
        self
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
