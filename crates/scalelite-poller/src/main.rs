//! `scalelite-poller`: poll every BBB server each `POLL_INTERVAL` until SIGTERM/SIGINT. The wiring lives in the
//! library (`scalelite_poller::service`), where tests can run it.

use clap::Parser;
use scalelite_poller::service::{self, Cli};

/// mimalloc instead of the system allocator: a cycle parses every server's `getMeetings` answer into many small,
/// short-lived allocations, and glibc's malloc/free took a fifth of the CPU of a cycle (README "Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    service::main(Cli::parse()).await
}
