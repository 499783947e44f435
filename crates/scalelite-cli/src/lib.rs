//! `scalelite-cli`: the original's rake tasks as one command (`scalelite-cli servers:add URL SECRET`, `status`,
//! `tenants:add NAME SECRETS`, ...).
//!
//! - `cli`: the subcommands and their arguments (one per rake task, same names).
//! - `argv`: the rake bracket form `servers:add[URL,SECRET]`.
//! - `commands`: each task, a thin layer over `scalelite_core::management` that prints the original's output.
//! - `output`: standard output/error and the `status` table.
//!
//! Exit status: 0 on success; 1 with one line `error: ...` on standard error when the task fails (nothing was
//! changed when the arguments were bad); 2 for a command line clap cannot read.

pub mod argv;
pub mod cli;
pub mod commands;
pub mod output;

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::config::LogLevel;
use scalelite_core::management::{Management, ManagementOptions};
use scalelite_core::storage::store::Store;
use scalelite_core::telemetry;
use scalelite_poller::{PollSettings, Poller};

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::output::Out;

/// Every task name and alias, for the bracket form.
fn task_names() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .flat_map(|c| {
            std::iter::once(c.get_name().to_owned()).chain(c.get_all_aliases().map(str::to_owned))
        })
        .collect()
}

/// Parse the command line (process arguments, program name first) and run the task; see the crate docs for the
/// exit status.
pub async fn run(args: Vec<OsString>) -> ExitCode {
    let mut out = Out::stdio();
    let args = argv::expand_bracket_form(args, &task_names());
    let cli = match Cli::command()
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&mut out, &e),
    };
    match execute(cli, &mut out).await {
        Ok(()) => {
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = out.flush();
            let _ = out.warn(format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to standard output with status 0; other clap errors are one line with status 2.
fn clap_exit(out: &mut Out, error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = out.text(error.render());
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = out.text(error.render());
            ExitCode::from(2)
        }
        ErrorKind::MissingSubcommand => {
            let _ = out.text(Cli::command().render_help());
            ExitCode::from(2)
        }
        _ => {
            let rendered = error.render().to_string();
            let line = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            let _ = out.warn(format!("{line} (see --help)"));
            ExitCode::from(2)
        }
    }
}

async fn execute(mut cli: Cli, out: &mut Out) -> anyhow::Result<()> {
    // Operators read the task's own output; the log only says something when it matters.
    if cli.log.rust_log.is_none() && cli.log.rails_log_level.is_none() {
        cli.log.rails_log_level = Some(LogLevel::Warn);
    }
    telemetry::init("scalelite-cli", &cli.log);
    if matches!(cli.command, Command::Liveness) {
        out.line("success")?;
        return Ok(());
    }
    let backend = cli.storage.backend()?;
    let store = Store::open(&backend)
        .await
        .context("could not open the store")?;
    let timeouts = Timeouts {
        connect: cli.bbb.connect_timeout,
        response: cli.bbb.response_timeout,
    };
    let bbb = BbbClient::new(timeouts, cli.secrets.checksum_algorithms().outbound())
        .with_max_response_size(cli.bbb.bbb_max_response_size);
    let options = ManagementOptions {
        server_id_is_hostname: cli.meetings.server_id_is_hostname,
        multitenancy: cli.secrets.multitenancy_enabled,
        concurrency: cli.poller.poller_threads.saturating_sub(1).max(1) as usize,
        meeting_failover: cli.meetings.meeting_failover,
    };
    let poll_settings = PollSettings::from_config(&cli.poller, &cli.meetings);
    let mut ctx = Ctx {
        management: Management::new(store.clone(), bbb.clone(), options),
        store: store.clone(),
        poller: Poller::new(store, bbb.clone(), poll_settings.clone()),
        bbb,
        poll_settings,
        recordings: cli.recordings,
        out: std::mem::replace(out, Out::stdio()),
    };
    let result = commands::dispatch(&mut ctx, cli.command).await;
    *out = ctx.out;
    result
}
