//! The `servers*` tasks and `status`.

use std::io::Read;

use anyhow::{Context, bail};
use scalelite_core::domain::{Secret, ServerState};
use scalelite_core::management::json::ServerJson;
use scalelite_core::management::sync::{DesiredServer, parse_server_list, parse_sync_document};
use scalelite_core::management::{
    ManagementError, NewServerRequest, ServerUpdate, SyncMode, format_number, non_blank,
    parse_load_multiplier, zero_means_one,
};
use serde::Serialize;

use crate::cli::{
    ServerId, ServersAdd, ServersAddAll, ServersDisable, ServersLoadMultiplier, ServersMeetingList,
    ServersPanic, ServersSync, ServersTag, ServersUpdate, ServersYaml,
};
use crate::commands::{Ctx, id_list, optional_bool, required};
use crate::output::{Cell, render_table};

const NEED_ID: &str = "Please input a server id!";

/// A multiplier argument of the update tasks: absent → `None`; 0 → 1 with the original's warning.
fn update_multiplier(ctx: &mut Ctx, value: Option<&str>) -> anyhow::Result<Option<f64>> {
    let Some(text) = value else {
        return Ok(None);
    };
    let (value, warning) = zero_means_one(parse_load_multiplier(text)?);
    if let Some(warning) = warning {
        ctx.out.line(warning)?;
    }
    Ok(Some(value))
}

impl Ctx {
    fn notes(&mut self, notes: &[String]) -> anyhow::Result<()> {
        for note in notes {
            self.out.line(note)?;
        }
        Ok(())
    }

    pub(super) async fn servers(&mut self, json: bool) -> anyhow::Result<()> {
        let servers = self.management.list_servers().await?;
        if json {
            let list: Vec<ServerJson> = servers.iter().map(ServerJson::from).collect();
            return self.out.json(&list);
        }
        if servers.is_empty() {
            self.out.warn("No servers are configured")?;
        }
        for server in servers {
            self.out.line(format!("id: {}", server.id))?;
            self.out.line(format!("\turl: {}", server.url))?;
            self.out
                .line(format!("\tsecret: {}", server.secret.expose()))?;
            self.out.line(format!("\t{}", server.state))?;
            let load = server.load.map_or("unavailable".to_owned(), format_number);
            self.out.line(format!("\tload: {load}"))?;
            self.out.line(format!(
                "\tload multiplier: {}",
                format_number(server.load_multiplier)
            ))?;
            self.out.line(format!(
                "\tbbb version: {}",
                server.bbb_version.as_deref().unwrap_or_default()
            ))?;
            self.out.line(format!(
                "\ttag: {}",
                server.tag.as_deref().unwrap_or_default()
            ))?;
            self.out.line(format!(
                "\t{}",
                if server.online { "online" } else { "offline" }
            ))?;
        }
        Ok(())
    }

    pub(super) async fn servers_add(&mut self, a: ServersAdd) -> anyhow::Result<()> {
        let (Some(url), Some(secret)) =
            (non_blank(a.url.as_deref()), non_blank(a.secret.as_deref()))
        else {
            bail!("Please input at least a URL and a secret!");
        };
        let load_multiplier = non_blank(a.load_multiplier.as_deref())
            .map(parse_load_multiplier)
            .transpose()?;
        let request = NewServerRequest {
            id: None,
            url: url.to_owned(),
            secret: Secret::new(secret),
            load_multiplier,
            tag: a.tag,
        };
        let added = self
            .management
            .add_server(request, !a.no_check)
            .await
            .map_err(no_check_hint)?;
        self.notes(&added.notes)?;
        self.out.line("OK")?;
        self.out.line(format!("id: {}", added.value.id))?;
        Ok(())
    }

    pub(super) async fn servers_update(&mut self, a: ServersUpdate) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?.to_owned();
        self.out.line(format!("Updating server {id}..."))?;
        let load_multiplier = update_multiplier(self, non_blank(a.load_multiplier.as_deref()))?;
        let update = ServerUpdate {
            url: non_blank(a.url.as_deref()).map(str::to_owned),
            secret: non_blank(a.secret.as_deref()).map(Secret::new),
            load_multiplier,
            // Given but empty removes the tag; left out keeps it (the original's raw-argument check).
            tag: a.tag.map(|t| Some(t).filter(|t| !t.trim().is_empty())),
            state: None,
        };
        let updated = self
            .management
            .update_server(&id, update, !a.no_check)
            .await
            .map_err(no_check_hint)?;
        self.notes(&updated.notes)?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_remove(&mut self, a: ServerId) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        self.out.line(format!("Removing server {id}..."))?;
        self.management.remove_server(id).await?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_enable(&mut self, a: ServerId) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        self.out.line(format!("Enabling server {id}..."))?;
        self.management
            .set_server_state(id, ServerState::Enabled)
            .await?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_cordon(&mut self, a: ServerId) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        self.out.line(format!("Cordoning server {id}..."))?;
        self.management
            .set_server_state(id, ServerState::Cordoned)
            .await?;
        self.out.line("OK")?;
        Ok(())
    }

    /// With load or meetings on the server, ask first; `yes` ends the meetings and disables it, anything else
    /// changes nothing and fails (the original printed `OK` either way).
    pub(super) async fn servers_disable(&mut self, a: ServersDisable) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        self.out.line(format!("Disabling server {id}..."))?;
        let server = self.management.get_server(id).await?;
        let meetings = self.management.meetings_on(id).await?;
        let busy = server.load.unwrap_or(0.0) > 0.0 || !meetings.is_empty();
        if busy {
            self.out.line(format!(
                "WARNING: You are trying to disable a server with active load ({} meetings). You should use the \
                 cordon option if you do not want to clear all the meetings",
                meetings.len()
            ))?;
            if !self.confirm(a.yes)? {
                bail!("cancelled: server {id} was not disabled");
            }
        }
        let (_, cleared) = self.management.disable_server(id, busy).await?;
        self.report_cleared(&cleared)?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_panic(&mut self, a: ServersPanic) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        let keep_state = optional_bool(&a.keep_state, "keep_state", false)?;
        let skip_end_calls = optional_bool(&a.skip_end_calls, "skip_end_calls", false)?;
        self.out.line(format!("Panicking server {id}..."))?;
        let report = self
            .management
            .panic_server(id, keep_state, skip_end_calls)
            .await?;
        self.report_cleared(&report.meetings)?;
        if report.kept_for_failover && !report.meetings.is_empty() {
            self.out.line(format!(
                "Kept {} meeting(s) for failover: the next join of each creates it on another server",
                report.meetings.len()
            ))?;
        }
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_load_multiplier(
        &mut self,
        a: ServersLoadMultiplier,
    ) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?.to_owned();
        let load_multiplier =
            update_multiplier(self, non_blank(a.load_multiplier.as_deref()))?.unwrap_or(1.0);
        let update = ServerUpdate {
            load_multiplier: Some(load_multiplier),
            ..ServerUpdate::default()
        };
        self.management.update_server(&id, update, false).await?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_tag(&mut self, a: ServersTag) -> anyhow::Result<()> {
        let id = required(&a.id, NEED_ID)?;
        let update = ServerUpdate {
            tag: Some(non_blank(a.tag.as_deref()).map(str::to_owned)),
            ..ServerUpdate::default()
        };
        self.management.update_server(id, update, false).await?;
        self.out.line("OK")?;
        Ok(())
    }

    pub(super) async fn servers_add_all(&mut self, a: ServersAddAll) -> anyhow::Result<()> {
        let path = required(&a.path, "Missing 'path' parameter")?;
        let list = parse_server_list(&read_input(path)?)?;
        for listed in list {
            let request = NewServerRequest {
                url: listed.url,
                secret: listed.secret,
                ..NewServerRequest::default()
            };
            let added = self
                .management
                .add_server(request, !a.no_check)
                .await
                .map_err(no_check_hint)?;
            self.notes(&added.notes)?;
            self.out.line(format!("server: {}", added.value.url))?;
            self.out.line(format!("id: {}", added.value.id))?;
        }
        Ok(())
    }

    pub(super) async fn servers_sync(&mut self, a: ServersSync) -> anyhow::Result<()> {
        let path = required(&a.path, "Missing 'path' parameter")?;
        let mode = SyncMode::parse(a.mode.as_deref())?;
        let dryrun = optional_bool(&a.dryrun, "dryrun", false)?;
        let desired: Vec<DesiredServer> = parse_sync_document(&read_input(path)?)?;
        let mut lines = Vec::new();
        let result = self
            .management
            .sync_servers(&desired, mode, dryrun, &mut |line| lines.push(line))
            .await;
        for line in lines {
            self.out.line(line)?;
        }
        result?;
        if dryrun {
            self.out.line("Dry run: nothing was changed")?;
        }
        Ok(())
    }

    pub(super) async fn servers_yaml(&mut self, a: ServersYaml) -> anyhow::Result<()> {
        let verbose = optional_bool(&a.verbose, "verbose", false)?;
        let yaml = self.management.servers_yaml(verbose).await?;
        self.out.text(yaml)?;
        Ok(())
    }

    /// Each server's meetings (their ids; the original printed their names under `MeetingIDs:`).
    pub(super) async fn servers_meeting_list(
        &mut self,
        a: ServersMeetingList,
    ) -> anyhow::Result<()> {
        let listed = self
            .management
            .server_meetings(&id_list(&a.server_ids))
            .await?;
        if a.json {
            #[derive(Serialize)]
            struct Entry<'a> {
                server_id: &'a str,
                server_url: &'a str,
                meeting_ids: Option<Vec<&'a str>>,
                error: Option<&'a str>,
            }
            let entries: Vec<Entry<'_>> = listed
                .iter()
                .map(|l| Entry {
                    server_id: &l.server.id,
                    server_url: &l.server.url,
                    meeting_ids: l
                        .meetings
                        .as_ref()
                        .ok()
                        .map(|ms| ms.iter().map(|m| m.meeting_id.as_str()).collect()),
                    error: l.meetings.as_ref().err().map(String::as_str),
                })
                .collect();
            return self.out.json(&entries);
        }
        for entry in listed {
            self.out.line(format!("\nServer ID: {}", entry.server.id))?;
            self.out.line(format!("Server Url: {}", entry.server.url))?;
            match entry.meetings {
                Ok(meetings) => {
                    let ids: Vec<&str> = meetings.iter().map(|m| m.meeting_id.as_str()).collect();
                    self.out
                        .line(format!("MeetingIDs: \n\t{}", ids.join("\n\t")))?;
                    if ids.is_empty() {
                        self.out.warn("\tNo meetings to display")?;
                    }
                }
                Err(error) => self.out.warn(format!(
                    "\nFailed to get server id={} status: {error}",
                    entry.server.id
                ))?,
            }
        }
        Ok(())
    }

    /// The original's `status` table: one blank line, then the table.
    pub(super) async fn status(&mut self, json: bool) -> anyhow::Result<()> {
        let rows = self.management.status().await?;
        if json {
            return self.out.json(&rows);
        }
        let headers = [
            "HOSTNAME",
            "STATE",
            "STATUS",
            "MEETINGS",
            "USERS",
            "LARGEST MEETING",
            "VIDEOS",
            "LOAD",
            "BBB VERSION",
            "TAG",
        ];
        let cells: Vec<Vec<Cell>> = rows
            .iter()
            .map(|row| {
                vec![
                    Cell::left(&row.hostname),
                    Cell::left(row.state),
                    Cell::left(row.status),
                    // The original's statistics come from Redis as strings, so they are left-aligned.
                    Cell::left(row.meetings.to_string()),
                    Cell::left(row.users.to_string()),
                    Cell::left(row.largest_meeting.to_string()),
                    Cell::left(row.videos.to_string()),
                    row.load
                        .map_or_else(|| Cell::left(""), |l| Cell::right(format_number(l))),
                    Cell::left(&row.bbb_version),
                    Cell::left(&row.tag),
                ]
            })
            .collect();
        self.out
            .line(format!("\n{}", render_table(&headers, &cells)))?;
        Ok(())
    }
}

/// A failed URL check says how to skip it.
fn no_check_hint(error: ManagementError) -> anyhow::Error {
    match error {
        ManagementError::NotBbb { .. } => {
            anyhow::anyhow!("{error}, or pass --no-check to save it without the check")
        }
        other => other.into(),
    }
}

/// The contents of `path`, or standard input for `-`.
fn read_input(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("could not read standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("could not read {path}"))
    }
}
