//! `scalelite-recording-importer`: import the recording archives BBB servers send, until SIGTERM/SIGINT. The wiring
//! lives in the library (`scalelite_recording_importer::service`), where tests can run it.

use clap::Parser;
use scalelite_recording_importer::service::{self, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    service::main(Cli::parse()).await
}
