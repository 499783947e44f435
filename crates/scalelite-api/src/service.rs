//! The `scalelite-api` service: its command line and the wiring behind it (store, settings, S3, the all-in-one
//! poller and importer, the metrics listener, the HTTP listener, shutdown). `main.rs` only parses the arguments and
//! calls [`main`]; tests call [`run_until`].

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_core::config::{
    BbbClientArgs, HttpArgs, LogArgs, MeetingArgs, MetricsArgs, MiscArgs, PollerArgs,
    RecordingArgs, SecretsArgs, ShutdownArgs, StorageArgs,
};
use scalelite_core::s3::S3Bucket;
use scalelite_core::shutdown::{Shutdown, Signals};
use scalelite_core::storage::store::Store;
use scalelite_core::telemetry;
use scalelite_recording_importer::{CallbackSettings, ImportContext, ImportSettings};

use crate::cloudfront::CloudFront;
use crate::{AppState, Settings};

/// The Scalelite BBB API: one BBB endpoint in front of a pool of BigBlueButton servers.
///
/// Every option can be given as the environment variable named in brackets (the original's names).
#[derive(Parser, Debug)]
#[command(name = "scalelite-api", version)]
pub struct Cli {
    /// Also run the poller and the recording importer in this process (all-in-one: one command, no other service
    /// needed).
    #[arg(long, env = "SCALELITE_ALL_IN_ONE")]
    pub all_in_one: bool,
    #[command(flatten)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    pub bbb: BbbClientArgs,
    #[command(flatten)]
    pub meetings: MeetingArgs,
    #[command(flatten)]
    pub poller: PollerArgs,
    #[command(flatten)]
    pub recordings: RecordingArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub shutdown: ShutdownArgs,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub misc: MiscArgs,
}

/// The binary: set up logging, [`run`], and turn the outcome into the exit status.
pub async fn main(cli: Cli) -> ExitCode {
    telemetry::init("scalelite-api", &cli.log);
    telemetry::report_exit("scalelite-api", run(cli).await)
}

/// Serve the BBB API until SIGTERM/SIGINT.
///
/// # Errors
/// The configuration is invalid (S3), the store cannot be opened, or an address cannot be bound.
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
    let backend = cli.storage.backend()?;
    let store = Store::open(&backend)
        .await
        .context("could not open the store")?;
    tracing::info!(store = store.kind(), "store ready");
    let settings = Settings::from_config(
        &cli.secrets,
        &cli.bbb,
        &cli.meetings,
        &cli.recordings,
        &cli.misc,
        &cli.http,
    );
    let s3 = S3Bucket::from_config(&cli.recordings).context("S3_RECORDING")?;
    let cloudfront = CloudFront::from_config(&cli.recordings).map_err(anyhow::Error::msg)?;
    let settings = Settings {
        s3: s3.clone(),
        cloudfront,
        ..settings
    };
    let mut state = AppState::new(settings, store.clone());
    // Installed once the store is open: a signal while the store is still being reached ends the process at once.
    signals.install(&shutdown);

    if cli.all_in_one {
        let poller = scalelite_poller::Poller::new(
            store.clone(),
            state.bbb.clone(),
            scalelite_poller::PollSettings::from_config(&cli.poller, &cli.meetings),
        );
        let token = shutdown.token();
        let holder = scalelite_core::storage::lease_holder_id();
        state = state.with_poller(poller.clone());
        shutdown.spawn(async move { poller.run(&holder, token).await });

        let import_settings = ImportSettings {
            s3,
            ..ImportSettings::from_config(&cli.recordings)
        };
        let importer = ImportContext::new(store.clone(), import_settings)
            .with_callbacks(CallbackSettings::from_config(&cli.secrets), &shutdown);
        state = state.with_importer(importer.clone());
        shutdown.spawn(scalelite_recording_importer::run(
            importer,
            shutdown.token(),
        ));
    }

    if let Some(addr) = cli.metrics.metrics_bind {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr} (METRICS_BIND)"))?;
        let addr = listener.local_addr().unwrap_or(addr);
        tracing::info!(%addr, "metrics at /metrics");
        // Not tracked by the drain: a scrape never delays the exit.
        let (state, stop) = (state.clone(), shutdown.cancelled_owned());
        tokio::spawn(async move {
            if let Err(e) = crate::serve_metrics(listener, state, stop).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }

    let addr = cli.http.listen_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("could not listen on {addr}"))?;
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(%addr, all_in_one = cli.all_in_one, "scalelite-api listening");
    let signal = shutdown.cancelled_owned();
    let behind = state.behind.clone();
    crate::serve(listener, state, signal, cli.shutdown.shutdown_grace_period).await?;
    if !behind.drain(cli.shutdown.shutdown_grace_period).await {
        tracing::warn!(
            "writes behind answers (meeting confirmations) still running after the grace period; stopping anyway"
        );
    }
    shutdown.trigger();
    shutdown.drain(cli.shutdown.shutdown_grace_period).await;
    Ok(())
}
