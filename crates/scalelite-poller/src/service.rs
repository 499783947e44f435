//! The `scalelite-poller` service: its command line and the wiring behind it (store, BBB client, lease, metrics
//! listener, shutdown). `main.rs` only parses the arguments and calls [`main`]; tests call [`run_until`].

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::config::{
    BbbClientArgs, LogArgs, MeetingArgs, MetricsArgs, PollerArgs, SecretsArgs, ShutdownArgs,
    StorageArgs,
};
use scalelite_core::shutdown::{Shutdown, Signals};
use scalelite_core::storage::store::Store;
use scalelite_core::{metrics_listener, telemetry};

use crate::{PollSettings, Poller};

/// The Scalelite poller: keeps health, load and meetings of every BBB server up to date. Several may run; one is
/// active at a time (a lease in the store).
#[derive(Parser, Debug)]
#[command(name = "scalelite-poller", version)]
pub struct Cli {
    /// Poll once and exit instead of looping.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub poller: PollerArgs,
    #[command(flatten)]
    pub bbb: BbbClientArgs,
    #[command(flatten)]
    pub meetings: MeetingArgs,
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
    telemetry::init("scalelite-poller", &cli.log);
    telemetry::report_exit("scalelite-poller", run(cli).await)
}

/// Poll until SIGTERM/SIGINT (or once, with `--once`).
///
/// # Errors
/// The store cannot be opened, `METRICS_BIND` cannot be bound, a `--once` poll fails, or the cycle in progress
/// outlives the shutdown grace period.
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
    // Installed after the store is open and only for the daemon: a signal during a single poll, or while the store
    // is still being reached, ends the process at once.
    signals.install(&shutdown);
    if let Some(addr) = cli.metrics.metrics_bind {
        let metrics = poller.clone();
        let render = move || crate::metrics::render(&metrics.metrics());
        metrics_listener::spawn(addr, render, shutdown.token()).await?;
    }
    let token = shutdown.token();
    shutdown.spawn(async move {
        poller
            .run(&scalelite_core::storage::lease_holder_id(), token)
            .await
    });
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
