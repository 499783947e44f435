//! Servers: add, update, remove, state changes, disable and panic (with their meetings), status rows.

use serde::Serialize;

use crate::bbb::params::Params;
use crate::bbb_client::CallError;
use crate::domain::{Meeting, NewServer, Secret, Server, ServerPatch, ServerState, ServerStats};
use crate::management::{
    ClearedMeeting, Management, ManagementError, Outcome, PanicReport, Result, check_server_url,
    corrected_note,
};
use crate::storage::{MeetingStore, ServerStore, StoreError};

/// The original's warning when a load multiplier of 0 is replaced by 1.
const ZERO_MULTIPLIER_WARNING: &str =
    "WARNING! Load-multiplier was not readable or 0, so it is now 1";

/// The rake tasks' rule for a multiplier: 0 means 1, with the original's warning as the second value.
pub fn zero_means_one(value: f64) -> (f64, Option<String>) {
    if value == 0.0 {
        (1.0, Some(ZERO_MULTIPLIER_WARNING.to_owned()))
    } else {
        (value, None)
    }
}

/// What `servers:add` and `addServer` take.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewServerRequest {
    /// An explicit id (`servers:sync`); `None`: the host name with `SERVER_ID_IS_HOSTNAME`, else a UUID.
    pub id: Option<String>,
    /// The API base URL; corrected when it lacks `/bigbluebutton/api/`.
    pub url: String,
    /// The shared secret.
    pub secret: Secret,
    /// `None` or 0: 1.0 (0 with a warning). Negative numbers are refused.
    pub load_multiplier: Option<f64>,
    /// A blank tag means none.
    pub tag: Option<String>,
}

/// A change to a server; `None` fields stay as they are. Everything is checked before anything is written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerUpdate {
    /// A new API base URL (checked and corrected like `servers:add`).
    pub url: Option<String>,
    /// A new secret (must not be blank).
    pub secret: Option<Secret>,
    /// A new multiplier: must be a positive number.
    pub load_multiplier: Option<f64>,
    /// `Some(None)` or a blank tag removes the tag.
    pub tag: Option<Option<String>>,
    /// A new administrative state.
    pub state: Option<ServerState>,
}

/// One row of `status`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusRow {
    /// Host part of the server URL.
    pub hostname: String,
    /// The server id.
    pub id: String,
    /// `enabled`, `cordoned` or `disabled`.
    pub state: &'static str,
    /// `online` or `offline`.
    pub status: &'static str,
    /// Meetings the last poll saw.
    pub meetings: i64,
    /// Participants the last poll saw.
    pub users: i64,
    /// Participants of the largest meeting.
    pub largest_meeting: i64,
    /// Video streams.
    pub videos: i64,
    /// Current load, when known.
    pub load: Option<f64>,
    /// BBB version, `""` when unknown.
    pub bbb_version: String,
    /// Tag, `""` when none.
    pub tag: String,
}

/// The multiplier `servers:add` stores: `None` or 0 gives 1.0 (0 with the original's warning); a negative number
/// is refused.
fn add_multiplier(value: Option<f64>, notes: &mut Vec<String>) -> Result<f64> {
    let Some(value) = value else {
        return Ok(1.0);
    };
    let (value, warning) = zero_means_one(value);
    notes.extend(warning);
    if value < 0.0 || !value.is_finite() {
        return Err(negative_multiplier());
    }
    Ok(value)
}

fn negative_multiplier() -> ManagementError {
    ManagementError::Invalid("Load-multiplier must be a positive number".to_owned())
}

/// The multiplier an update stores: it must be a positive number (the admin API's rule for 0).
fn update_multiplier(value: f64) -> Result<f64> {
    if value == 0.0 {
        Err(ManagementError::Invalid(
            "Load-multiplier must be a non-zero number".to_owned(),
        ))
    } else if value < 0.0 || !value.is_finite() {
        Err(negative_multiplier())
    } else {
        Ok(value)
    }
}

/// A blank tag is no tag.
fn clean_tag(tag: Option<String>) -> Option<String> {
    tag.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

impl Management {
    /// Every server, sorted by id.
    pub async fn list_servers(&self) -> Result<Vec<Server>> {
        let mut servers = self.store.list_servers().await?;
        servers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(servers)
    }

    /// One server; [`ManagementError::ServerNotFound`] when absent.
    pub async fn get_server(&self, id: &str) -> Result<Server> {
        self.store.get_server(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::ServerNotFound(id.to_owned()),
            other => other.into(),
        })
    }

    /// Ask `url` for `getMeetings` signed with `secret`: success means the URL is a BBB API and the secret is right.
    ///
    /// # Errors
    /// [`ManagementError::NotBbb`] saying what went wrong.
    pub async fn probe_server(&self, url: &str, secret: &Secret) -> Result<()> {
        let probe = Server {
            id: String::new(),
            url: url.to_owned(),
            secret: secret.clone(),
            tag: None,
            state: ServerState::Disabled,
            load: None,
            online: false,
            load_multiplier: 1.0,
            healthy_counter: 0,
            unhealthy_counter: 0,
            stats: ServerStats::default(),
            bbb_version: None,
        };
        match self
            .bbb
            .call(&probe, "getMeetings", &Params::default(), None, false)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => Err(ManagementError::NotBbb {
                url: url.to_owned(),
                reason: describe_call_error(&error),
            }),
        }
    }

    /// Add a server, **disabled** (enable it once it is ready), as `servers:add` and `addServer` do. With `check`,
    /// the URL and secret must answer a `getMeetings` call first.
    ///
    /// # Errors
    /// [`ManagementError::Invalid`] for a blank URL or secret, a bad URL or a negative multiplier;
    /// [`ManagementError::Conflict`] for a duplicate id; [`ManagementError::NotBbb`] when the check fails.
    pub async fn add_server(
        &self,
        request: NewServerRequest,
        check: bool,
    ) -> Result<Outcome<Server>> {
        if request.url.trim().is_empty() || request.secret.expose().trim().is_empty() {
            return Err(ManagementError::Invalid(
                "Server needs a URL and a secret".to_owned(),
            ));
        }
        let mut notes = Vec::new();
        let checked = check_server_url(&request.url)?;
        if checked.corrected {
            notes.push(corrected_note(request.url.trim(), &checked.url));
        }
        let load_multiplier = add_multiplier(request.load_multiplier, &mut notes)?;
        let id = match request.id {
            Some(id) => id,
            None if self.options.server_id_is_hostname => checked.host.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        if check {
            self.probe_server(&checked.url, &request.secret).await?;
        }
        let server = self
            .store
            .add_server(NewServer {
                id,
                url: checked.url,
                secret: request.secret,
                tag: clean_tag(request.tag),
                state: ServerState::Disabled,
                load_multiplier,
            })
            .await?;
        Ok(Outcome {
            value: server,
            notes,
        })
    }

    /// Change a server. Every field is checked before anything is written, and the change is one atomic patch.
    /// With `check` and a new URL or secret, the resulting pair must answer a `getMeetings` call first.
    ///
    /// # Errors
    /// [`ManagementError::ServerNotFound`], [`ManagementError::Invalid`] (bad URL, blank secret, zero or negative
    /// multiplier), [`ManagementError::NotBbb`].
    pub async fn update_server(
        &self,
        id: &str,
        update: ServerUpdate,
        check: bool,
    ) -> Result<Outcome<Server>> {
        let server = self.get_server(id).await?;
        let mut notes = Vec::new();
        let mut patch = ServerPatch {
            state: update.state,
            ..ServerPatch::default()
        };
        if let Some(multiplier) = update.load_multiplier {
            patch.load_multiplier = Some(update_multiplier(multiplier)?);
        }
        if let Some(url) = &update.url {
            let checked = check_server_url(url)?;
            if checked.corrected {
                notes.push(corrected_note(url.trim(), &checked.url));
            }
            patch.url = Some(checked.url);
        }
        if let Some(secret) = update.secret {
            if secret.expose().trim().is_empty() {
                return Err(ManagementError::Invalid(
                    "the secret must not be empty".to_owned(),
                ));
            }
            patch.secret = Some(secret);
        }
        if let Some(tag) = update.tag {
            patch.tag = Some(clean_tag(tag));
        }
        if check && (patch.url.is_some() || patch.secret.is_some()) {
            let url = patch.url.as_deref().unwrap_or(&server.url);
            let secret = patch.secret.as_ref().unwrap_or(&server.secret);
            self.probe_server(url, secret).await?;
        }
        let value = self.patch(id, patch).await?;
        Ok(Outcome { value, notes })
    }

    async fn patch(&self, id: &str, patch: ServerPatch) -> Result<Server> {
        self.store
            .patch_server(id, patch)
            .await
            .map_err(|e| match e {
                StoreError::NotFound(_) => ManagementError::ServerNotFound(id.to_owned()),
                other => other.into(),
            })
    }

    /// Set the administrative state (`servers:enable`, `servers:cordon`, `servers:disable` without meetings).
    pub async fn set_server_state(&self, id: &str, state: ServerState) -> Result<Server> {
        self.get_server(id).await?;
        self.patch(
            id,
            ServerPatch {
                state: Some(state),
                ..ServerPatch::default()
            },
        )
        .await
    }

    /// Remove a server (its meetings are not checked: panic it first if it still has some).
    pub async fn remove_server(&self, id: &str) -> Result<()> {
        self.store.delete_server(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::ServerNotFound(id.to_owned()),
            other => other.into(),
        })
    }

    /// The live meetings placed on `server_id`, sorted by id.
    pub async fn meetings_on(&self, server_id: &str) -> Result<Vec<Meeting>> {
        let mut meetings: Vec<Meeting> = self
            .store
            .list_meetings()
            .await?
            .into_iter()
            .filter(|m| m.server_id == server_id)
            .collect();
        meetings.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(meetings)
    }

    /// Forget `meetings` of `server` and, with `send_end`, ask the server to end each of them (concurrently; an
    /// offline server gets the short timeouts). A failing `end` is reported, never fatal: the meeting is forgotten
    /// either way.
    pub async fn clear_meetings(
        &self,
        server: &Server,
        meetings: Vec<Meeting>,
        send_end: bool,
    ) -> Result<Vec<ClearedMeeting>> {
        for meeting in &meetings {
            self.store.delete_meeting(&meeting.id).await?;
        }
        Ok(self.end_each(server, meetings, send_end).await)
    }

    /// Send `end` for each meeting on `server` (unless `send_end` is false), at most `concurrency` at once; each
    /// failure is reported with its meeting.
    async fn end_each(
        &self,
        server: &Server,
        meetings: Vec<Meeting>,
        send_end: bool,
    ) -> Vec<ClearedMeeting> {
        if !send_end {
            return meetings
                .into_iter()
                .map(|m| ClearedMeeting {
                    id: m.id,
                    end_error: None,
                })
                .collect();
        }
        let server = server.clone();
        self.bounded(meetings, move |management, meeting| {
            let server = server.clone();
            async move {
                let end_error = management.send_end(&server, &meeting).await.err();
                ClearedMeeting {
                    id: meeting.id,
                    end_error,
                }
            }
        })
        .await
    }

    /// BBB `end` for one meeting (meetingID and the moderator password).
    pub(crate) async fn send_end(
        &self,
        server: &Server,
        meeting: &Meeting,
    ) -> std::result::Result<(), String> {
        let mut params = Params::default();
        params.set("meetingID", &meeting.id);
        params.set("password", &meeting.moderator_pw);
        self.bbb
            .call(server, "end", &params, None, !server.online)
            .await
            .map(|_| ())
            .map_err(|e| describe_call_error(&e))
    }

    /// `servers:disable`: with `clear_meetings`, forget (and end) every meeting on the server first; then the
    /// state becomes `disabled`. Returns the cleared meetings.
    pub async fn disable_server(
        &self,
        id: &str,
        clear_meetings: bool,
    ) -> Result<(Server, Vec<ClearedMeeting>)> {
        let server = self.get_server(id).await?;
        let cleared = if clear_meetings {
            let meetings = self.meetings_on(id).await?;
            self.clear_meetings(&server, meetings, true).await?
        } else {
            Vec::new()
        };
        let server = self.set_server_state(id, ServerState::Disabled).await?;
        Ok((server, cleared))
    }

    /// `servers:panic` / `panicServer`: end every meeting on the server unless `skip_end_calls` (failures are
    /// reported, not fatal: the server is most likely dead), then disable it unless `keep_state`.
    ///
    /// The meetings are forgotten as in the original, except with [`ManagementOptions::meeting_failover`] when the
    /// server is disabled: then their records (and kept create parameters) stay, pointing at the disabled server,
    /// and the next join or create of each makes it again on another server. The server is disabled *before* the
    /// `end` calls, so a user who rejoins at once is already sent elsewhere. With `keep_state` the server stays
    /// usable, and a kept record would send joiners back to the server that just ended the meeting: they are
    /// forgotten.
    pub async fn panic_server(
        &self,
        id: &str,
        keep_state: bool,
        skip_end_calls: bool,
    ) -> Result<PanicReport> {
        let server = self.get_server(id).await?;
        let meetings = self.meetings_on(id).await?;
        if keep_state || !self.options.meeting_failover {
            let cleared = self
                .clear_meetings(&server, meetings, !skip_end_calls)
                .await?;
            if !keep_state {
                self.set_server_state(id, ServerState::Disabled).await?;
            }
            return Ok(PanicReport {
                meetings: cleared,
                kept_for_failover: false,
            });
        }
        let server = self.set_server_state(id, ServerState::Disabled).await?;
        let meetings = self.end_each(&server, meetings, !skip_end_calls).await;
        Ok(PanicReport {
            meetings,
            kept_for_failover: true,
        })
    }

    /// The `status` table's rows, sorted by host name (then id).
    pub async fn status(&self) -> Result<Vec<StatusRow>> {
        let mut rows: Vec<StatusRow> = self
            .store
            .list_servers()
            .await?
            .iter()
            .map(|server| StatusRow {
                hostname: url::Url::parse(&server.url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default(),
                id: server.id.clone(),
                state: server.state.as_str(),
                status: if server.online { "online" } else { "offline" },
                meetings: server.stats.meetings,
                users: server.stats.users,
                largest_meeting: server.stats.largest_meeting,
                videos: server.stats.videos,
                load: server.load,
                bbb_version: server.bbb_version.clone().unwrap_or_default(),
                tag: server.tag.clone().unwrap_or_default(),
            })
            .collect();
        rows.sort_by(|a, b| a.hostname.cmp(&b.hostname).then_with(|| a.id.cmp(&b.id)));
        Ok(rows)
    }
}

/// A failed BBB call in one line, without URL or checksum.
pub(crate) fn describe_call_error(error: &CallError) -> String {
    error.to_string()
}
