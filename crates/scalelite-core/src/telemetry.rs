//! Logging set-up shared by the binaries: `tracing` events written to standard error, one line each.
//!
//! The filter is `RUST_LOG` when set (tracing's `EnvFilter` syntax), else `RAILS_LOG_LEVEL` applied to our own
//! crates (default `info`); other crates never log below `info` unless `RUST_LOG` says so. `LOG_FORMAT=json` writes
//! one JSON object per line instead of the plain `timestamp LEVEL target: message fields` lines.

use std::io::IsTerminal;
use std::sync::Once;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogArgs, LogFormat, LogLevel};

/// The targets `RAILS_LOG_LEVEL` applies to (besides the service's own crate): our crates, and tower-http's request
/// traces.
const OUR_TARGETS: &[&str] = &[
    "scalelite_core",
    "scalelite_api",
    "scalelite_poller",
    "scalelite_recording_importer",
    "scalelite_cli",
    "fake_bbb",
    "tower_http",
];

/// Install the global logger for `service` (the binary's name, e.g. `scalelite-api`). Writes to standard error,
/// with colours only when that is a terminal. Safe to call more than once: only the first call (in the process)
/// installs anything, and a logger installed by someone else is left alone.
pub fn init(service: &str, args: &LogArgs) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let ansi = std::io::stderr().is_terminal();
        // An error means a global logger is already installed (e.g. by `init_for_tests`); keep that one.
        let _ = build(service, args, std::io::stderr, ansi).try_init();
    });
}

/// Install a logger for tests, once per process: silent unless `TEST_LOG` is set, in which case events go to the
/// test harness's captured output, filtered by `RUST_LOG` (default `debug`).
pub fn init_for_tests() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "debug".to_owned());
        let filter = EnvFilter::builder()
            .parse(&directives)
            .unwrap_or_else(|_| EnvFilter::new("debug"));
        let builder = tracing_subscriber::fmt().with_env_filter(filter);
        // Errors mean another logger is installed already; keep it.
        let _ = if std::env::var_os("TEST_LOG").is_some() {
            builder.with_test_writer().try_init()
        } else {
            builder.with_writer(std::io::sink).try_init()
        };
    });
}

/// The logger `init` installs, writing to `writer` without colours, for use with
/// `tracing::subscriber::with_default` (tests, or a binary that wants another sink).
pub fn subscriber<W>(service: &str, args: &LogArgs, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    build(service, args, writer, false)
}

fn build<W>(
    service: &str,
    args: &LogArgs,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    // `RUST_LOG` was checked when the configuration was parsed; fall back to `info` rather than fail here.
    let filter = EnvFilter::builder()
        .parse(filter_directives(service, args))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(true);
    match args.log_format {
        LogFormat::Plain => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .finish(),
        ),
    }
}

/// The filter directives in effect: `RUST_LOG` as given; else the `RAILS_LOG_LEVEL` level (default `info`) for
/// our crates and the service's own crate, with everything else at `info` or quieter.
pub fn filter_directives(service: &str, args: &LogArgs) -> String {
    if let Some(rust_log) = &args.rust_log {
        return rust_log.clone();
    }
    let level = args.rails_log_level.unwrap_or(LogLevel::Info);
    // Other crates (sqlx, hyper, reqwest, ...) get the level too, but never more verbose than `info`.
    let others = level.max(LogLevel::Info);
    let mut directives = vec![others.as_str().to_owned()];
    if level < others {
        let service_target = service.replace('-', "_");
        let usable = !service_target.is_empty()
            && service_target
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !OUR_TARGETS.contains(&service_target.as_str());
        let targets = OUR_TARGETS
            .iter()
            .copied()
            .chain(usable.then_some(service_target.as_str()));
        directives.extend(targets.map(|target| format!("{target}={}", level.as_str())));
    }
    directives.join(",")
}

#[cfg(test)]
mod tests;

/// The exit of a service binary: success, or the error logged with its cause chain and printed as one line
/// `error: ...` on stderr, with a failure status.
pub fn report_exit(service: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error.message = %e, error.cause_chain = ?e, "{service} stopped");
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
