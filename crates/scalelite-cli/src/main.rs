//! `scalelite-cli`: run one operator task (the original's rake tasks) and exit.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    scalelite_cli::run(std::env::args_os().collect()).await
}
