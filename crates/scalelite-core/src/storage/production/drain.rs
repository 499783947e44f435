//! A queue that one task at a time drains: the load bumps of joins (`bumps.rs`), new meetings' confirmations
//! (`confirms.rs`) and reads of callback data (`postgres.rs`) are each written or read in batches this way. A caller
//! adds to the queue and starts the draining task unless one runs; that task takes batch after batch, each a round
//! trip, until the queue is empty. Alone, an item goes out at once; under a burst, the items that arrive during one
//! round trip share the next.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// The queue `Q` and whether a task is draining it.
#[derive(Debug, Default)]
pub(crate) struct Drained<Q> {
    state: Mutex<State<Q>>,
}

#[derive(Debug, Default)]
struct State<Q> {
    queue: Q,
    /// Whether a task is draining; it takes whatever waits before it stops.
    draining: bool,
}

impl<Q> Drained<Q> {
    fn lock(&self) -> MutexGuard<'_, State<Q>> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Change the queue with `add`; whether the caller must start the draining task (none runs).
    pub(crate) fn add(&self, add: impl FnOnce(&mut Q)) -> bool {
        let mut state = self.lock();
        add(&mut state.queue);
        !std::mem::replace(&mut state.draining, true)
    }

    /// The draining task's next batch, as `take` makes it from the queue; `None` when it makes none, and the task
    /// must stop then (the next `add` starts another). Checked and marked under one lock, so an item added
    /// meanwhile is either in a batch or starts a task.
    pub(crate) fn next<B>(&self, take: impl FnOnce(&mut Q) -> Option<B>) -> Option<B> {
        let mut state = self.lock();
        let batch = take(&mut state.queue);
        if batch.is_none() {
            state.draining = false;
        }
        batch
    }
}

/// Up to `max` items from the front of `queue`, or `None` when it is empty: [`Drained::next`]'s `take` for a list.
pub(crate) fn front<T>(queue: &mut Vec<T>, max: usize) -> Option<Vec<T>> {
    if queue.is_empty() {
        return None;
    }
    let take = queue.len().min(max);
    Some(queue.drain(..take).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_add_starts_a_task_until_the_task_finds_the_queue_empty() {
        let drained: Drained<Vec<u32>> = Drained::default();
        assert!(drained.add(|q| q.push(1)), "nothing drains: start");
        assert!(!drained.add(|q| q.push(2)), "a task drains already");
        assert_eq!(drained.next(|q| front(q, 1)), Some(vec![1]));
        assert!(!drained.add(|q| q.push(3)), "the task still drains");
        assert_eq!(drained.next(|q| front(q, 10)), Some(vec![2, 3]));
        assert_eq!(
            drained.next(|q| front(q, 10)),
            None,
            "empty: the task stops"
        );
        assert!(
            drained.add(|q| q.push(4)),
            "stopped: the next add starts one"
        );
    }
}
