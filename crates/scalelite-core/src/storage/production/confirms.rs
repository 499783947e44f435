//! New meetings' confirmations (`MeetingStore::confirm_meeting_with_params`, one per new meeting, written behind
//! the create's answer), coalesced (`drain.rs`): a confirmation joins the queue, and one task at a time writes what
//! waits, up to [`MAX_BATCH`] placements in one script call (`confirm_placements.lua`), then looks again. Under a
//! burst of creates that is a round trip and a script call per batch instead of one per meeting; alone, a
//! confirmation goes out at once, as before. Each caller still gets its own placement's answer, and its own error:
//! a confirmation that fails (a key of another type) fails alone.

use std::sync::Arc;

use tokio::sync::oneshot;

use crate::storage::production::drain::{Drained, front};
use crate::storage::production::redis::{PlacementConfirmation, RedisStore};
use crate::storage::{StoreError, StoreResult};

/// Most placements confirmed in one script call (the script runs atomically: a long one holds Redis up).
const MAX_BATCH: usize = 64;

type Waiter = oneshot::Sender<StoreResult<bool>>;

pub(crate) struct Confirms {
    redis: RedisStore,
    waiting: Drained<Vec<(PlacementConfirmation, Waiter)>>,
}

impl Confirms {
    /// Confirmations written to `redis`.
    pub(crate) fn new(redis: RedisStore) -> Self {
        Self {
            redis,
            waiting: Drained::default(),
        }
    }

    /// Confirm `placement` with the next batch: whether its token held the claim and the record exists.
    pub(crate) async fn confirm(
        self: &Arc<Self>,
        placement: PlacementConfirmation,
    ) -> StoreResult<bool> {
        let (answer, answered) = oneshot::channel();
        if self.waiting.add(|queue| queue.push((placement, answer))) {
            let confirms = Arc::clone(self);
            tokio::spawn(async move { confirms.write().await });
        }
        answered.await.unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "redis confirm placements: the writer stopped before answering".into(),
            ))
        })
    }

    /// Write what waits until nothing does.
    async fn write(&self) {
        while let Some(batch) = self.waiting.next(|queue| front(queue, MAX_BATCH)) {
            let (placements, waiters): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            match self.redis.confirm_placements(placements).await {
                Ok(answers) => {
                    for (waiter, answer) in waiters.into_iter().zip(answers) {
                        let _ = waiter.send(answer);
                    }
                }
                Err(e) => {
                    for waiter in waiters {
                        let _ = waiter.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
