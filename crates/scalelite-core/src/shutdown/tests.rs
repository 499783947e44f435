use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::*;

#[tokio::test]
async fn trigger_is_seen_by_every_clone_and_the_token() {
    let shutdown = Shutdown::new();
    let clone = shutdown.clone();
    let token = shutdown.token();
    assert!(!shutdown.is_triggered());
    assert!(!clone.is_triggered());

    let waiter = tokio::spawn({
        let clone = clone.clone();
        async move { clone.cancelled().await }
    });
    let owned = shutdown.cancelled_owned();
    clone.trigger();

    waiter.await.unwrap();
    owned.await;
    token.cancelled().await;
    assert!(shutdown.is_triggered());
    assert!(token.is_cancelled());
    // Idempotent, and resolves at once afterwards.
    shutdown.trigger();
    shutdown.cancelled().await;
}

#[tokio::test]
async fn separate_switches_are_independent() {
    let one = Shutdown::new();
    let other = Shutdown::new();
    one.trigger();
    assert!(!other.is_triggered());
}

#[tokio::test]
async fn drain_waits_for_tracked_tasks_to_finish_their_work() {
    let shutdown = Shutdown::new();
    let finished = Arc::new(AtomicBool::new(false));
    shutdown.spawn({
        let shutdown = shutdown.clone();
        let finished = Arc::clone(&finished);
        async move {
            shutdown.cancelled().await;
            // The in-flight work still completes after the trigger.
            tokio::task::yield_now().await;
            finished.store(true, Ordering::SeqCst);
        }
    });
    shutdown.trigger();
    assert!(shutdown.drain(Duration::from_secs(3600)).await);
    assert!(finished.load(Ordering::SeqCst));
    assert!(shutdown.tracker().is_closed());
}

#[tokio::test]
async fn drain_gives_up_after_the_grace_period() {
    let shutdown = Shutdown::new();
    // A task that ignores shutdown.
    let stuck = shutdown.spawn(std::future::pending::<()>());
    shutdown.trigger();
    assert!(!shutdown.drain(Duration::ZERO).await);
    assert!(!stuck.is_finished());
    stuck.abort();
}

#[tokio::test]
async fn drain_with_nothing_tracked_is_immediate() {
    assert!(Shutdown::new().drain(Duration::ZERO).await);
}

#[tokio::test]
async fn the_signal_task_ends_when_shutdown_comes_from_elsewhere() {
    let shutdown = Shutdown::new();
    let task = on_signal(shutdown.clone());
    shutdown.trigger();
    task.await.unwrap();
}

#[test]
fn signals_display_their_names() {
    assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
    assert_eq!(Signal::Interrupt.to_string(), "SIGINT");
}

// `signal()` with real signals is tested on the binaries (`crates/*/tests/binary.rs`): a signal sent to this test
// process would reach every test running in it.
