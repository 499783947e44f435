//! `scalelite-api`: parse the configuration, open the store, serve the BBB API until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_api::{AppState, Settings};
use scalelite_core::config::{
    BbbClientArgs, HttpArgs, LogArgs, MeetingArgs, MetricsArgs, MiscArgs, PollerArgs,
    RecordingArgs, SecretsArgs, ShutdownArgs, StorageArgs,
};
use scalelite_core::s3::S3Bucket;
use scalelite_core::shutdown::{self, Shutdown};
use scalelite_core::storage::store::Store;
use scalelite_core::telemetry;
use scalelite_recording_importer::{CallbackSettings, ImportContext, ImportSettings};

/// The Scalelite BBB API: one BBB endpoint in front of a pool of BigBlueButton servers.
///
/// Every option can be given as the environment variable named in brackets (the original's names).
#[derive(Parser, Debug)]
#[command(name = "scalelite-api", version)]
struct Cli {
    /// Also run the poller and the recording importer in this process (all-in-one: one command, no other service
    /// needed).
    #[arg(long, env = "SCALELITE_ALL_IN_ONE")]
    all_in_one: bool,
    #[command(flatten)]
    secrets: SecretsArgs,
    #[command(flatten)]
    bbb: BbbClientArgs,
    #[command(flatten)]
    meetings: MeetingArgs,
    #[command(flatten)]
    poller: PollerArgs,
    #[command(flatten)]
    recordings: RecordingArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    shutdown: ShutdownArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    misc: MiscArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init("scalelite-api", &cli.log);
    telemetry::report_exit("scalelite-api", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
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
    let settings = Settings {
        s3: s3.clone(),
        ..settings
    };
    let mut state = AppState::new(settings, store.clone());

    let shutdown = Shutdown::new();
    shutdown::on_signal(shutdown.clone());
    if cli.all_in_one {
        let poller = scalelite_poller::Poller::new(
            store.clone(),
            state.bbb.clone(),
            scalelite_poller::PollSettings::from_config(&cli.poller, &cli.meetings),
        );
        let token = shutdown.token();
        let holder = scalelite_poller::holder_id();
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
            if let Err(e) = scalelite_api::serve_metrics(listener, state, stop).await {
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
    scalelite_api::serve(listener, state, signal, cli.shutdown.shutdown_grace_period).await?;
    shutdown.trigger();
    shutdown.drain(cli.shutdown.shutdown_grace_period).await;
    Ok(())
}
