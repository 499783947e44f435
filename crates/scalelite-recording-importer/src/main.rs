//! `scalelite-recording-importer`: import the recording archives BBB servers send, until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_core::config::{
    LogArgs, MetricsArgs, RecordingArgs, SecretsArgs, ShutdownArgs, StorageArgs,
};
use scalelite_core::s3::S3Bucket;
use scalelite_core::shutdown::{self, Shutdown};
use scalelite_core::storage::store::Store;
use scalelite_core::telemetry;
use scalelite_recording_importer::{CallbackSettings, ImportContext, ImportSettings};

/// The Scalelite recording importer: watches RECORDING_SPOOL_DIR for the archives BBB servers send, indexes them
/// in the store and places their files under RECORDING_PUBLISH_DIR or RECORDING_UNPUBLISH_DIR (or uploads them to
/// S3_BUCKET_NAME with S3_RECORDING). Several may run;
/// one is active at a time (a lease in the store).
#[derive(Parser, Debug)]
#[command(name = "scalelite-recording-importer", version)]
struct Cli {
    /// Import what is in the spool now, then exit (like `scalelite-cli recordings:import`).
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(flatten)]
    secrets: SecretsArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    shutdown: ShutdownArgs,
    #[command(flatten)]
    log: LogArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init("scalelite-recording-importer", &cli.log);
    telemetry::report_exit("scalelite-recording-importer", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = ImportSettings::from_config(&cli.recording);
    settings.s3 = S3Bucket::from_config(&cli.recording).context("S3_RECORDING")?;
    let store = Store::open(&cli.storage.backend()?)
        .await
        .context("could not open the store")?;
    let shutdown = Shutdown::new();
    shutdown::on_signal(shutdown.clone());
    let ctx = ImportContext::new(store, settings)
        .with_callbacks(CallbackSettings::from_config(&cli.secrets), &shutdown);

    if cli.once {
        let report = scalelite_recording_importer::import_backlog(&ctx, |_, _| {})
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
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr} (METRICS_BIND)"))?;
        tracing::info!(%addr, "metrics at /metrics");
        // Not tracked by the drain: a scrape never delays the exit.
        let (ctx, token) = (ctx.clone(), shutdown.token());
        tokio::spawn(async move {
            if let Err(e) = scalelite_recording_importer::metrics::serve(listener, ctx, token).await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    shutdown.spawn(scalelite_recording_importer::run(ctx, shutdown.token()));
    shutdown.cancelled().await;
    let grace = cli.shutdown.shutdown_grace_period;
    anyhow::ensure!(
        shutdown.drain(grace).await,
        "the import in progress did not finish within the grace period ({grace:?}); its archive stays in the spool"
    );
    Ok(())
}
