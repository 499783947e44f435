//! `scalelite-api`: parse the configuration, open the store, serve the BBB API until SIGTERM/SIGINT. The wiring
//! lives in the library (`scalelite_api::service`), where tests can run it.

use clap::Parser;
use scalelite_api::service::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    service::main(Cli::parse()).await
}
