//! Writes a request makes after its answer: a new meeting's confirmation, and the clean mark of the callback data
//! a create of an existing meeting read (`create`).
//!
//! A create that placed a meeting answers as soon as BBB has created it; dropping the placement's claim and keeping
//! the create parameters is written behind the answer, as the answer does not depend on it (a confirmation that
//! fails is logged either way). Until that write lands, the claim this process is confirming counts as settled here,
//! so a join or create of the meeting that this process handles meanwhile does not wait for it; other processes see
//! the claim for the few milliseconds until the write lands and wait as they wait for any placement in flight.
//! Shutdown waits for these writes ([`WritesBehind::drain`]).

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_util::task::TaskTracker;

/// The writes behind answers of one process.
#[derive(Debug, Default)]
pub struct WritesBehind {
    tasks: TaskTracker,
    /// Claim tokens of placements whose create has answered and whose confirmation is being written.
    confirming: Mutex<HashSet<String>>,
}

impl WritesBehind {
    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        // Nothing panics while holding the lock; a poisoned set is still consistent.
        self.confirming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `token` is the claim of a placement this process has answered for and is confirming.
    pub fn confirming(&self, token: &str) -> bool {
        self.lock().contains(token)
    }

    /// Run `write`, the confirmation of the placement claimed with `token`, behind the answer.
    pub fn confirm<F>(self: &Arc<Self>, token: String, write: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.lock().insert(token.clone());
        let this = Arc::clone(self);
        self.tasks.spawn(async move {
            write.await;
            this.lock().remove(&token);
        });
    }

    /// Run `write` behind the answer.
    pub fn spawn<F>(&self, write: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(write);
    }

    /// Wait at most `grace` for the writes behind answers to land; whether they all did.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.tasks.close();
        tokio::time::timeout(grace, self.tasks.wait()).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_counts_as_confirming_until_its_write_lands_and_drain_waits_for_it() {
        let behind = Arc::new(WritesBehind::default());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        behind.confirm("t1".into(), async move {
            let _ = released.await;
        });
        assert!(behind.confirming("t1"));
        assert!(!behind.confirming("t2"));
        assert!(
            !behind.drain(Duration::from_millis(50)).await,
            "drain returned while a write was still running"
        );
        release.send(()).unwrap();
        assert!(behind.drain(Duration::from_secs(5)).await);
        assert!(!behind.confirming("t1"));
    }
}
