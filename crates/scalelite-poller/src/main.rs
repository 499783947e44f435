//! `scalelite-poller`: poll every BBB server each `POLL_INTERVAL` until SIGTERM/SIGINT.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::config::{
    BbbClientArgs, LogArgs, MeetingArgs, MetricsArgs, PollerArgs, SecretsArgs, ShutdownArgs,
    StorageArgs,
};
use scalelite_core::shutdown::{self, Shutdown};
use scalelite_core::storage::store::Store;
use scalelite_core::telemetry;
use scalelite_poller::{PollSettings, Poller};

/// The Scalelite poller: keeps health, load and meetings of every BBB server up to date. Several may run; one is
/// active at a time (a lease in the store).
#[derive(Parser, Debug)]
#[command(name = "scalelite-poller", version)]
struct Cli {
    /// Poll once and exit instead of looping.
    #[arg(long)]
    once: bool,
    #[command(flatten)]
    poller: PollerArgs,
    #[command(flatten)]
    bbb: BbbClientArgs,
    #[command(flatten)]
    meetings: MeetingArgs,
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
    telemetry::init("scalelite-poller", &cli.log);
    telemetry::report_exit("scalelite-poller", run(cli).await)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let store = Store::open(&cli.storage.backend()?)
        .await
        .context("could not open the store")?;
    let timeouts = Timeouts {
        connect: cli.bbb.connect_timeout,
        response: cli.bbb.response_timeout,
    };
    let bbb = BbbClient::new(timeouts, cli.secrets.checksum_algorithms().outbound())
        .with_max_response_size(cli.bbb.bbb_max_response_size);
    let poller = Poller::new(
        store,
        bbb,
        PollSettings::from_config(&cli.poller, &cli.meetings),
    );
    if cli.once {
        let report = poller.poll_once().await.context("poll failed")?;
        tracing::info!(?report, "poll done");
        return Ok(());
    }
    let shutdown = Shutdown::new();
    shutdown::on_signal(shutdown.clone());
    if let Some(addr) = cli.metrics.metrics_bind {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("could not listen on {addr} (METRICS_BIND)"))?;
        tracing::info!(%addr, "metrics at /metrics");
        // Not tracked by the drain: a scrape never delays the exit.
        let (poller, token) = (poller.clone(), shutdown.token());
        tokio::spawn(async move {
            if let Err(e) = scalelite_poller::metrics::serve(listener, poller, token).await {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    let token = shutdown.token();
    shutdown.spawn(async move { poller.run(&scalelite_poller::holder_id(), token).await });
    shutdown.cancelled().await;
    // The poller finishes the cycle it is in; past the grace period we exit anyway.
    if !shutdown.drain(cli.shutdown.shutdown_grace_period).await {
        anyhow::bail!(
            "the poll cycle did not finish within the shutdown grace period ({:?})",
            cli.shutdown.shutdown_grace_period
        );
    }
    Ok(())
}
