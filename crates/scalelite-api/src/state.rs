//! Shared state of every handler: settings, the store, the BBB client, the client for other outbound HTTP
//! (callbacks, Keycloak) and the request metrics. Cheap to clone.

use std::sync::Arc;

use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::storage::store::Store;

use crate::metrics::Metrics;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub bbb: BbbClient,
    /// Outbound HTTP that is not a BBB call: the analytics callback relay and the LRS token fetch.
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        let timeouts = Timeouts {
            connect: settings.connect_timeout,
            response: settings.response_timeout,
        };
        let bbb = BbbClient::new(timeouts, settings.checksum_algorithms.outbound());
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.connect_timeout + settings.response_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Only a broken TLS back-end makes this fail; fall back to the defaults rather than refuse to start.
            .unwrap_or_default();
        Self {
            settings: Arc::new(settings),
            store,
            bbb,
            http,
            metrics: Arc::new(Metrics::default()),
        }
    }
}
