//! `fake-bbb`: run fake BigBlueButton servers and their JSON control API until SIGINT or SIGTERM.
//!
//! Prints one `server <id>: <url> secret <secret>` line per server, then `control API: <url>/servers` once
//! everything is up.

use anyhow::Context as _;
use clap::Parser;
use fake_bbb::{DEFAULT_BBB_VERSION, DEV_SECRET, FakeBbb, ServerOptions};

/// Fake BigBlueButton servers for trying Scalelite or a front-end without BBB.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How many fake BBB servers to start.
    #[arg(long, default_value_t = 1)]
    servers: u16,
    /// The shared secret of every server (default: a fixed development secret, `fake-bbb-dev-secret-not-for-production`).
    #[arg(long, default_value = DEV_SECRET, hide_default_value = true)]
    secret: String,
    /// First port; servers get P, P+1, … on 127.0.0.1 (default: random free ports).
    #[arg(long)]
    base_port: Option<u16>,
    /// Port of the JSON control API on 127.0.0.1 (0 = random).
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// The bbbVersion the index call reports.
    #[arg(long, default_value = DEFAULT_BBB_VERSION)]
    bbb_version: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    let shutdown = shutdown_signal().context("could not listen for shutdown signals")?;
    let fake = FakeBbb::new();
    for i in 0..args.servers {
        let port = match args.base_port {
            Some(base) => base
                .checked_add(i)
                .context("--base-port plus --servers goes past port 65535")?,
            None => 0,
        };
        let options = ServerOptions {
            secret: args.secret.clone(),
            port,
            bbb_version: args.bbb_version.clone(),
        };
        let (id, server) = fake
            .add_server(options)
            .await
            .with_context(|| format!("could not start fake server {}", i + 1))?;
        // Printing the URLs and secret is this binary's user interface.
        #[allow(clippy::print_stdout)]
        {
            println!("server {id}: {} secret {}", server.url(), server.secret());
        }
    }
    let control = fake
        .serve_control(args.control_port)
        .await
        .context("could not start the control API")?;
    #[allow(clippy::print_stdout)]
    {
        println!("control API: {}/servers", control.url());
    }

    shutdown.await;
    tracing::info!("shutting down");
    control.stop().await;
    fake.stop_all().await;
    Ok(())
}

/// Signal handlers are installed before anything starts, so a SIGTERM during startup still stops cleanly.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Ctrl-C only where there is no SIGTERM.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        // If the handler cannot be installed there is no way to stop gracefully; stop at once.
        let _ = tokio::signal::ctrl_c().await;
    })
}
