//! Meetings: listing them with what their servers say, ending them, and each server's own meeting list.

use serde::Serialize;

use crate::bbb::params::Params;
use crate::bbb::xml::{self, Element, MeetingSummary};
use crate::domain::{Meeting, Server};
use crate::management::json::MeetingJson;
use crate::management::servers::describe_call_error;
use crate::management::{Management, ManagementError, Result};
use crate::storage::{MeetingStore, StoreError};

/// A meeting that was forgotten; `end_error` says why the BBB `end` call failed, if it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClearedMeeting {
    /// The meeting id.
    pub id: String,
    /// The failure of the `end` call, `None` when it succeeded or was not sent.
    pub end_error: Option<String>,
}

/// What `servers:panic` did with the server's meetings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanicReport {
    /// Each meeting of the server, with the failure of its `end` call.
    pub meetings: Vec<ClearedMeeting>,
    /// Whether their records were kept for failover (`MEETING_FAILOVER`) rather than forgotten.
    pub kept_for_failover: bool,
}

/// A meeting with its server and the server's `getMeetingInfo` answer (or why there is none).
#[derive(Clone, Debug, PartialEq)]
pub struct MeetingInfo {
    /// The stored meeting.
    pub meeting: Meeting,
    /// Its server, `None` when the server record is gone.
    pub server: Option<Server>,
    /// The `<response>` of `getMeetingInfo`, or the reason it failed.
    pub info: std::result::Result<Element, String>,
}

/// A server with the meetings its `getMeetings` reports (or why the call failed).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerMeetings {
    /// The server.
    pub server: Server,
    /// Its meetings, or the reason the call failed.
    pub meetings: std::result::Result<Vec<MeetingSummary>, String>,
}

impl Management {
    /// The meetings with these ids, or every live meeting (sorted by id) when `ids` is empty. An unknown id fails
    /// the whole call before anything is done ([`ManagementError::MeetingNotFound`]).
    pub async fn find_meetings(&self, ids: &[String]) -> Result<Vec<Meeting>> {
        if ids.is_empty() {
            let mut meetings = self.store.list_meetings().await?;
            meetings.sort_by(|a, b| a.id.cmp(&b.id));
            return Ok(meetings);
        }
        let mut meetings = Vec::with_capacity(ids.len());
        for id in ids {
            meetings.push(self.get_meeting(id).await?);
        }
        Ok(meetings)
    }

    /// One live meeting; [`ManagementError::MeetingNotFound`] when absent.
    pub async fn get_meeting(&self, id: &str) -> Result<Meeting> {
        self.store.get_meeting(id).await.map_err(|e| match e {
            StoreError::NotFound(_) => ManagementError::MeetingNotFound(id.to_owned()),
            other => other.into(),
        })
    }

    /// Where each meeting runs, from the store alone (no BBB call): the meetings [`Self::find_meetings`] finds,
    /// each with its server's id and URL (`None` when the server record is gone).
    pub async fn meeting_placements(&self, ids: &[String]) -> Result<Vec<MeetingJson>> {
        let meetings = self.find_meetings(ids).await?;
        let mut placements = Vec::with_capacity(meetings.len());
        for meeting in meetings {
            let server = match self.get_server(&meeting.server_id).await {
                Ok(server) => Some(server),
                Err(ManagementError::ServerNotFound(_)) => None,
                Err(e) => return Err(e),
            };
            placements.push(MeetingJson::new(&meeting, server.as_ref()));
        }
        Ok(placements)
    }

    async fn server_of(&self, meeting: &Meeting) -> std::result::Result<Server, String> {
        self.get_server(&meeting.server_id)
            .await
            .map_err(|e| e.to_string())
    }

    /// `getMeetingInfo` for each meeting on its server, concurrently; results in the order of `meetings`.
    pub async fn meeting_infos(&self, meetings: Vec<Meeting>) -> Vec<MeetingInfo> {
        self.bounded(meetings, |management, meeting| async move {
            let server = management.server_of(&meeting).await;
            let info = match &server {
                Ok(server) => {
                    let mut params = Params::default();
                    params.set("meetingID", &meeting.id);
                    management
                        .bbb
                        .call(server, "getMeetingInfo", &params, None, !server.online)
                        .await
                        .map(|response| response.root)
                        .map_err(|e| describe_call_error(&e))
                }
                Err(e) => Err(e.clone()),
            };
            MeetingInfo {
                meeting,
                server: server.ok(),
                info,
            }
        })
        .await
    }

    /// `meetings:end`: forget each meeting and ask its server to end it, concurrently. A failing `end` is reported
    /// in the result; the meeting is forgotten either way.
    pub async fn end_meetings(&self, meetings: Vec<Meeting>) -> Result<Vec<ClearedMeeting>> {
        for meeting in &meetings {
            self.store.delete_meeting(&meeting.id).await?;
        }
        Ok(self
            .bounded(meetings, |management, meeting| async move {
                let end_error = match management.server_of(&meeting).await {
                    Ok(server) => management.send_end(&server, &meeting).await.err(),
                    Err(e) => Some(e),
                };
                ClearedMeeting {
                    id: meeting.id,
                    end_error,
                }
            })
            .await)
    }

    /// `servers:meeting_list`: each server's `getMeetings`, concurrently. `ids` empty: every server; otherwise an
    /// unknown id fails the call before anything is asked.
    pub async fn server_meetings(&self, ids: &[String]) -> Result<Vec<ServerMeetings>> {
        let servers = if ids.is_empty() {
            self.list_servers().await?
        } else {
            let mut servers = Vec::with_capacity(ids.len());
            for id in ids {
                servers.push(self.get_server(id).await?);
            }
            servers
        };
        Ok(self
            .bounded(servers, |management, server| async move {
                let meetings = management
                    .bbb
                    .call(&server, "getMeetings", &Params::default(), None, false)
                    .await
                    .map(|response| xml::meeting_summaries(&response.root))
                    .map_err(|e| describe_call_error(&e));
                ServerMeetings { server, meetings }
            })
            .await)
    }
}
