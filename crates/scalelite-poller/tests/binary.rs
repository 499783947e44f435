//! The `scalelite-poller` binary as operators run it.

use std::time::Duration;

use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

#[tokio::test]
async fn polls_and_stops_on_sigterm() {
    let store = test_store(Backend::Embedded).await;
    let mut env = store.env().to_vec();
    env.push(("POLL_INTERVAL".into(), "1".into()));
    let mut poller = Service::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_scalelite-poller")),
        &[],
        &env,
    );
    assert!(
        poller
            .wait_for_log("this poller holds the lease", Duration::from_secs(30))
            .await,
        "the poller takes its lease:\n{}",
        poller.log()
    );
    poller.terminate();
    let status = poller.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exits cleanly on SIGTERM ({status:?}):\n{}",
        poller.log()
    );
}

/// A setting that would make the poller spin is refused at start-up with one line naming it.
#[tokio::test]
async fn a_zero_poll_interval_is_refused_at_start_up() {
    let store = test_store(Backend::Embedded).await;
    let mut env = store.env().to_vec();
    env.push(("POLL_INTERVAL".into(), "0".into()));
    let mut poller = Service::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_scalelite-poller")),
        &[],
        &env,
    );
    let status = poller.wait_exit(Duration::from_secs(30)).await;
    assert!(status.is_some_and(|s| !s.success()), "{status:?}");
    let log = poller.log();
    assert!(
        log.contains("POLL_INTERVAL") && log.contains("greater than 0"),
        "{log}"
    );
}
