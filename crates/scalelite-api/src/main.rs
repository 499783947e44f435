//! `scalelite-api`: parse the configuration, open the store, serve the BBB API until SIGTERM/SIGINT. The wiring
//! lives in the library (`scalelite_api::service`), where tests can run it.

use clap::Parser;
use scalelite_api::service::{self, Cli};

/// mimalloc instead of the system allocator: a request allocates many small, short-lived buffers (headers, query
/// parameters, XML), and glibc's malloc/free were 12% of the CPU under load (README "Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    service::main(Cli::parse()).await
}
