//! `scalelite-poller`: poll every BBB server each `POLL_INTERVAL` until SIGTERM/SIGINT. The wiring lives in the
//! library (`scalelite_poller::service`), where tests can run it.

use clap::Parser;
use scalelite_poller::service::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    service::main(Cli::parse()).await
}
