//! Shared state of every handler: settings, the store and the BBB client. Cheap to clone.

use std::sync::Arc;

use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::storage::store::Store;

use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub bbb: BbbClient,
}

impl AppState {
    pub fn new(settings: Settings, store: Store) -> Self {
        let timeouts = Timeouts {
            connect: settings.connect_timeout,
            response: settings.response_timeout,
        };
        let bbb = BbbClient::new(timeouts, settings.checksum_algorithms.outbound());
        Self {
            settings: Arc::new(settings),
            store,
            bbb,
        }
    }
}
