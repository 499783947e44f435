//! The tasks: each one parses its arguments, calls the management layer and prints the original's output.
//!
//! - `servers`: the `servers*` tasks and `status`.
//! - `meetings`: `meetings`, `meetings:end`, `meetings:info`.
//! - `tenants`: the `tenants*` and `tenantSettings*` tasks.
//! - `misc`: polling, recordings maintenance, database, liveness.

mod meetings;
mod misc;
mod servers;
mod tenants;

use scalelite_core::storage::store::Store;
use std::io::BufRead;

use anyhow::bail;
use scalelite_core::bbb_client::BbbClient;
use scalelite_core::config::RecordingArgs;
use scalelite_core::management::{ClearedMeeting, Management, non_blank, parse_bool};
use scalelite_poller::{PollSettings, Poller};

use crate::cli::Command;
use crate::output::Out;

/// What a task needs: the management layer, the poller, the recording directories and where to write.
pub struct Ctx {
    pub management: Management,
    pub store: Store,
    pub bbb: BbbClient,
    pub poller: Poller,
    pub poll_settings: PollSettings,
    pub recordings: RecordingArgs,
    pub out: Out,
}

impl Ctx {
    /// Ask the operator to type `yes` (case-insensitive) on standard input, unless `assume_yes`. End of input or
    /// any other answer is a no.
    fn confirm(&mut self, assume_yes: bool) -> anyhow::Result<bool> {
        if assume_yes {
            return Ok(true);
        }
        self.out
            .line("If you still wish to continue please enter `yes`")?;
        self.out.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        Ok(answer.trim().eq_ignore_ascii_case("yes"))
    }

    /// `Clearing Meeting id=...` for each meeting, and a warning for each failed `end` (standard error).
    fn report_cleared(&mut self, cleared: &[ClearedMeeting]) -> anyhow::Result<()> {
        for meeting in cleared {
            self.out
                .line(format!("Clearing Meeting id={}", meeting.id))?;
            if let Some(error) = &meeting.end_error {
                self.out.warn(format!(
                    "WARNING: Could not end meeting id={}: {error}",
                    meeting.id
                ))?;
            }
        }
        Ok(())
    }
}

/// Run one task.
pub async fn dispatch(ctx: &mut Ctx, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Servers(a) => ctx.servers(a.json).await,
        Command::ServersAdd(a) => ctx.servers_add(a).await,
        Command::ServersUpdate(a) => ctx.servers_update(a).await,
        Command::ServersRemove(a) => ctx.servers_remove(a).await,
        Command::ServersEnable(a) => ctx.servers_enable(a).await,
        Command::ServersCordon(a) => ctx.servers_cordon(a).await,
        Command::ServersDisable(a) => ctx.servers_disable(a).await,
        Command::ServersPanic(a) => ctx.servers_panic(a).await,
        Command::ServersLoadMultiplier(a) => ctx.servers_load_multiplier(a).await,
        Command::ServersTag(a) => ctx.servers_tag(a).await,
        Command::ServersAddAll(a) => ctx.servers_add_all(a).await,
        Command::ServersSync(a) => ctx.servers_sync(a).await,
        Command::ServersYaml(a) => ctx.servers_yaml(a).await,
        Command::ServersMeetingList(a) => ctx.servers_meeting_list(a).await,
        Command::Status(a) => ctx.status(a.json).await,
        Command::Poll(a) => ctx.poll(a).await,
        Command::PollAll => ctx.poll_all().await,
        Command::Meetings(a) => ctx.meetings(a).await,
        Command::MeetingsEnd(a) => ctx.meetings_end(a).await,
        Command::MeetingsInfo(a) => ctx.meetings_info(a).await,
        Command::Tenants(a) => ctx.tenants(a.json).await,
        Command::TenantsAdd(a) => ctx.tenants_add(a).await,
        Command::TenantsUpdate(a) => ctx.tenants_update(a).await,
        Command::TenantsUpdateLrsBasic(a) => ctx.tenants_update_lrs_basic(a).await,
        Command::TenantsUpdateLrsKc(a) => ctx.tenants_update_lrs_kc(a).await,
        Command::TenantsRemove(a) => ctx.tenants_remove(a).await,
        Command::TenantSettings(a) => ctx.tenant_settings(a.json).await,
        Command::TenantSettingsAdd(a) => ctx.tenant_settings_add(a).await,
        Command::TenantSettingsRemove(a) => ctx.tenant_settings_remove(a).await,
        Command::RecordingsImport => ctx.recordings_import().await,
        Command::RecordingsUpdate => ctx.recordings_update().await,
        Command::RecordingsAddToTenant(a) => ctx.recordings_add_to_tenant(a).await,
        Command::DbMigrate => ctx.db_migrate().await,
        // Answered before the store is opened.
        Command::Liveness => Ok(()),
    }
}

/// A required argument: present and not blank, else an error with `message`.
fn required<'a>(value: &'a Option<String>, message: &str) -> anyhow::Result<&'a str> {
    match non_blank(value.as_deref()) {
        Some(value) => Ok(value),
        None => bail!("{message}"),
    }
}

/// An optional boolean argument (`true/false/yes/no/1/0`); absent or empty is `default`.
fn optional_bool(value: &Option<String>, name: &str, default: bool) -> anyhow::Result<bool> {
    match non_blank(value.as_deref()) {
        Some(text) => Ok(parse_bool(name, text)?),
        None => Ok(default),
    }
}

/// A `:`-separated id list (empty entries dropped); absent or empty means "all".
fn id_list(value: &Option<String>) -> Vec<String> {
    value
        .as_deref()
        .unwrap_or_default()
        .split(':')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}
