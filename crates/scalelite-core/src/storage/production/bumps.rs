//! Load bumps written behind (`ServerStore::increment_load_behind`, one per join), coalesced (`drain.rs`): a bump
//! adds to the amount still waiting for its server, and one task at a time writes what waits, every server's sum in
//! one pipelined round trip, then looks again. Under a burst of joins that is a round trip per batch instead of a
//! spawned task and a round trip per join; alone, a bump goes out at once, as before.

use std::collections::HashMap;
use std::sync::Arc;

use crate::storage::production::drain::Drained;
use crate::storage::production::redis::RedisStore;

pub(crate) struct LoadBumps {
    redis: RedisStore,
    /// Server id → the sum of the bumps not written yet.
    waiting: Drained<HashMap<String, f64>>,
}

impl LoadBumps {
    /// Bumps written to `redis`.
    pub(crate) fn new(redis: RedisStore) -> Self {
        Self {
            redis,
            waiting: Drained::default(),
        }
    }

    /// Add `amount` to server `id`'s waiting bump; start the writer unless it runs.
    pub(crate) fn add(self: &Arc<Self>, id: &str, amount: f64) {
        let start = self.waiting.add(|amounts| match amounts.get_mut(id) {
            Some(sum) => *sum += amount,
            None => {
                amounts.insert(id.to_owned(), amount);
            }
        });
        if start {
            let bumps = Arc::clone(self);
            tokio::spawn(async move { bumps.write().await });
        }
    }

    /// Write what waits until nothing does.
    async fn write(&self) {
        while let Some(batch) = self.waiting.next(|amounts| {
            (!amounts.is_empty()).then(|| amounts.drain().collect::<Vec<(String, f64)>>())
        }) {
            if let Err(e) = self.redis.increment_loads(&batch).await {
                let servers: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
                tracing::warn!(servers = ?servers, error = %e, "could not bump the load");
            }
        }
    }
}
