//! Group commit of load bumps. Every join bumps its server's load (and every new meeting, and every rollback gives
//! a bump back). One by one, each bump is a trip through the single writer connection and a commit of its own, and
//! concurrent joins queue behind each other. Here a bump that arrives while a commit is running waits for the next
//! one, which carries every bump queued meanwhile: one write transaction, one `UPDATE` per server with the sum of
//! its bumps.
//!
//! Nothing changes for the caller: `increment_load` still returns once its bump is committed, with the load right
//! after it, as if the bumps of a batch had run one by one in the order they arrived. Nothing changes across
//! processes either: each `UPDATE` adds to whatever the row holds, under the database's write lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::storage::sqlite::servers::AVAILABLE;
use crate::storage::sqlite::{SqliteStore, backend};
use crate::storage::{StoreError, StoreResult};

/// The bumps waiting for a commit, and whether a commit task is running.
#[derive(Debug, Default)]
pub(super) struct LoadBumps {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Bump>,
    /// A task is committing (and will take `pending` next).
    flushing: bool,
}

#[derive(Debug)]
struct Bump {
    server_id: String,
    amount: f64,
    reply: oneshot::Sender<StoreResult<Option<f64>>>,
}

impl LoadBumps {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resets the queue when the commit task ends in any way (also dropped with its runtime): the next bump starts a
/// new task, and bumps still queued are answered with an error (their senders are dropped).
struct FlushGuard<'a> {
    bumps: &'a LoadBumps,
    /// False once the task finished normally (and a new task may already own the queue).
    armed: bool,
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut queue = self.bumps.lock();
        queue.flushing = false;
        queue.pending.clear();
    }
}

impl SqliteStore {
    /// `ServerStore::increment_load`, committed together with the bumps that arrive meanwhile.
    pub(super) async fn bump_load(&self, server_id: &str, amount: f64) -> StoreResult<Option<f64>> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = self.bumps.lock();
            queue.pending.push(Bump {
                server_id: server_id.to_owned(),
                amount,
                reply,
            });
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move { store.flush_bumps().await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "the load bump was not committed".into(),
            ))
        })
    }

    /// Commit queued bumps, batch after batch, until none is left.
    async fn flush_bumps(&self) {
        let mut guard = FlushGuard {
            bumps: &self.bumps,
            armed: true,
        };
        loop {
            let batch = {
                let mut queue = self.bumps.lock();
                if queue.pending.is_empty() {
                    queue.flushing = false;
                    guard.armed = false;
                    return;
                }
                std::mem::take(&mut queue.pending)
            };
            let answers = self.commit_bumps(&batch).await;
            for (bump, answer) in batch.into_iter().zip(answers) {
                // The caller may be gone (its request was dropped); its bump is committed anyway.
                let _ = bump.reply.send(answer);
            }
        }
    }

    /// One transaction for the batch; each bump's answer as if the bumps had run one by one, in order.
    async fn commit_bumps(&self, batch: &[Bump]) -> Vec<StoreResult<Option<f64>>> {
        // (server id, sum of its bumps), in order of first appearance.
        let mut totals: Vec<(&str, f64)> = Vec::new();
        for bump in batch {
            match totals.iter_mut().find(|(id, _)| *id == bump.server_id) {
                Some((_, total)) => *total += bump.amount,
                None => totals.push((&bump.server_id, bump.amount)),
            }
        }
        let loads = match self.commit_totals(&totals).await {
            Ok(loads) => loads,
            Err(e) => {
                let message = e.to_string();
                return batch
                    .iter()
                    .map(|_| Err(StoreError::Backend(message.clone())))
                    .collect();
            }
        };
        // The load after a bump is the final load less the bumps of the same server that came after it.
        let mut after: Vec<f64> = vec![0.0; totals.len()];
        let mut answers: Vec<StoreResult<Option<f64>>> = Vec::with_capacity(batch.len());
        for bump in batch.iter().rev() {
            let index = totals
                .iter()
                .position(|(id, _)| *id == bump.server_id)
                .unwrap_or_default();
            answers.push(Ok(loads[index].map(|load| load - after[index])));
            after[index] += bump.amount;
        }
        answers.reverse();
        answers
    }

    async fn commit_totals(&self, totals: &[(&str, f64)]) -> StoreResult<Vec<Option<f64>>> {
        let sql = format!(
            "UPDATE servers AS s SET load = s.load + ? WHERE s.id = ? AND {AVAILABLE} RETURNING load"
        );
        let mut tx = self.begin_write().await?;
        let mut loads = Vec::with_capacity(totals.len());
        for (id, total) in totals {
            let load: Option<f64> = sqlx::query_scalar(&sql)
                .bind(total)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
            loads.push(load);
        }
        tx.commit().await.map_err(backend)?;
        Ok(loads)
    }
}
