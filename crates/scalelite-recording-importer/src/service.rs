//! The `scalelite-recording-importer` service: its command line and the wiring behind it (store, S3, callbacks,
//! metrics listener, shutdown). `main.rs` only parses the arguments and calls [`main`]; tests call [`run_until`].

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_core::config::{
    LogArgs, MetricsArgs, RecordingArgs, SecretsArgs, ShutdownArgs, StorageArgs,
};
use scalelite_core::s3::S3Bucket;
use scalelite_core::shutdown::{Shutdown, Signals};
use scalelite_core::storage::store::Store;
use scalelite_core::{metrics_listener, telemetry};

use crate::{CallbackSettings, ImportContext, ImportSettings};

/// The Scalelite recording importer: watches RECORDING_SPOOL_DIR for the archives BBB servers send, indexes them
/// in the store and places their files under RECORDING_PUBLISH_DIR or RECORDING_UNPUBLISH_DIR (or uploads them to
/// S3_BUCKET_NAME with S3_RECORDING). Several may run;
/// one is active at a time (a lease in the store).
#[derive(Parser, Debug)]
#[command(name = "scalelite-recording-importer", version)]
pub struct Cli {
    /// Import what is in the spool now, then exit (like `scalelite-cli recordings:import`).
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub recording: RecordingArgs,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// The binary: set up logging, [`run`], and turn the outcome into the exit status.
pub async fn main(cli: Cli) -> ExitCode {
    telemetry::init("scalelite-recording-importer", &cli.log);
    telemetry::report_exit("scalelite-recording-importer", run(cli).await)
}

/// Import until SIGTERM/SIGINT (or what is in the spool now, with `--once`).
///
/// # Errors
/// The configuration is invalid (S3), the store cannot be opened, `METRICS_BIND` cannot be bound, a `--once`
/// import fails, or the import in progress outlives the shutdown grace period.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    start(cli, Shutdown::new(), Signals::Handle).await
}

/// [`run`], stopping when `shutdown` is triggered instead of on a signal.
///
/// # Errors
/// As [`run`].
pub async fn run_until(cli: Cli, shutdown: Shutdown) -> anyhow::Result<()> {
    start(cli, shutdown, Signals::Ignore).await
}

async fn start(cli: Cli, shutdown: Shutdown, signals: Signals) -> anyhow::Result<()> {
    let mut settings = ImportSettings::from_config(&cli.recording);
    settings.s3 = S3Bucket::from_config(&cli.recording).context("S3_RECORDING")?;
    let store = Store::open(&cli.storage.backend()?)
        .await
        .context("could not open the store")?;
    // Installed once the store is open: a signal while the store is still being reached ends the process at once.
    signals.install(&shutdown);
    let ctx = ImportContext::new(store, settings)
        .with_callbacks(CallbackSettings::from_config(&cli.secrets), &shutdown);

    if cli.once {
        let report = crate::import_backlog(&ctx, |_, _| {})
            .await
            .context("import failed")?;
        tracing::info!(?report, "import done");
        // Let the callbacks of this run go out (bounded by the grace period).
        drop(ctx);
        shutdown.trigger();
        shutdown.drain(cli.shutdown.shutdown_grace_period).await;
        return Ok(());
    }

    if cli.recording.recording_disabled {
        tracing::info!("recordings are disabled (RECORDING_DISABLED): nothing will be imported");
    }
    if let Some(addr) = cli.metrics.metrics_bind {
        let metrics = ctx.clone();
        let render = move || crate::metrics::render(&metrics.metrics());
        metrics_listener::spawn(addr, render, shutdown.token()).await?;
    }
    shutdown.spawn(crate::run(ctx, shutdown.token()));
    shutdown.cancelled().await;
    let grace = cli.shutdown.shutdown_grace_period;
    anyhow::ensure!(
        shutdown.drain(grace).await,
        "the import in progress did not finish within the grace period ({grace:?}); its archive stays in the spool"
    );
    Ok(())
}
