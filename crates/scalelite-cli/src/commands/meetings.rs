//! `meetings` (`meetings:list`), `meetings:end`, `meetings:info`.

use anyhow::bail;
use serde::Serialize;

use crate::cli::{MeetingIds, MeetingsEnd, MeetingsInfo};
use crate::commands::{Ctx, id_list, required};

/// The metadata `meetings:info` prints, in the original's order.
const INFO_METADATA: [&str; 12] = [
    "bbb-context-name",
    "analytics-callback-url",
    "bbb-recording-tags",
    "bbb-origin-server-common-name",
    "bbb-context-label",
    "bbb-origin",
    "bbb-context",
    "bbb-context-id",
    "bbb-recording-name",
    "bbb-origin-server-name",
    "bbb-recording-description",
    "bbb-origin-tag",
];

impl Ctx {
    pub(super) async fn meetings(&mut self, a: MeetingIds) -> anyhow::Result<()> {
        let meetings = self
            .management
            .find_meetings(&id_list(&a.meeting_ids))
            .await?;
        let infos = self.management.meeting_infos(meetings).await;
        if a.json {
            #[derive(Serialize)]
            struct Entry<'a> {
                meeting_id: &'a str,
                server_id: &'a str,
                server_url: Option<&'a str>,
                running: Option<bool>,
                error: Option<&'a str>,
            }
            let entries: Vec<Entry<'_>> = infos
                .iter()
                .map(|i| Entry {
                    meeting_id: &i.meeting.id,
                    server_id: &i.meeting.server_id,
                    server_url: i.server.as_ref().map(|s| s.url.as_str()),
                    running: i
                        .info
                        .as_ref()
                        .ok()
                        .and_then(|root| root.child_text("running"))
                        .map(|r| r == "true"),
                    error: i.info.as_ref().err().map(String::as_str),
                })
                .collect();
            return self.out.json(&entries);
        }
        // Every meeting is listed with its server, also when the server does not answer (then a warning follows).
        for info in infos {
            let id = info
                .info
                .as_ref()
                .ok()
                .and_then(|root| root.child_text("meetingID"))
                .unwrap_or_else(|| info.meeting.id.clone());
            self.out.line(format!("\nMeetingID: {id}"))?;
            self.out
                .line(format!("\tServer ID: {}", info.meeting.server_id))?;
            let url = info
                .server
                .as_ref()
                .map_or("(server gone)", |s| s.url.as_str());
            self.out.line(format!("\tServer Url: {url}"))?;
            if let Err(error) = &info.info {
                self.out.warn(format!(
                    "WARNING: Could not get info for meeting id={}: {error}",
                    info.meeting.id
                ))?;
            }
        }
        Ok(())
    }

    /// Asks first (unless `--yes`); a no ends nothing and fails. Each meeting is forgotten and its server asked to
    /// end it; `Clearing Meeting id=...` is printed for every meeting (the original printed it only when `end`
    /// succeeded), with a warning when `end` failed.
    pub(super) async fn meetings_end(&mut self, a: MeetingsEnd) -> anyhow::Result<()> {
        // Unknown ids fail before anything is asked or deleted.
        let meetings = self
            .management
            .find_meetings(&id_list(&a.meeting_ids))
            .await?;
        self.out
            .line("WARNING: You are trying to clear active meetings.")?;
        if !self.confirm(a.yes)? {
            bail!("cancelled: no meeting was ended");
        }
        if meetings.is_empty() {
            self.out.warn("No meetings to clear")?;
        }
        let cleared = self.management.end_meetings(meetings).await?;
        for meeting in cleared {
            self.out
                .warn(format!("Clearing Meeting id={}", meeting.id))?;
            if let Some(error) = meeting.end_error {
                self.out.warn(format!(
                    "WARNING: Could not end meeting id={}: {error}",
                    meeting.id
                ))?;
            }
        }
        self.out.line("OK")?;
        Ok(())
    }

    /// What the meeting's server says about it (the original's labels, with its `Serevr url` typo and wrong
    /// `bbb-origin` value fixed).
    pub(super) async fn meetings_info(&mut self, a: MeetingsInfo) -> anyhow::Result<()> {
        let id = required(&a.meeting_id, "Please input a meetingID!")?;
        let meeting = self.management.get_meeting(id).await?;
        let Some(info) = self.management.meeting_infos(vec![meeting]).await.pop() else {
            bail!("could not get info for meeting id={id}");
        };
        let (root, server) = match (info.info, info.server) {
            (Ok(root), Some(server)) => (root, server),
            (Err(error), _) => bail!("Could not get info for meeting id={id}: {error}"),
            (Ok(_), None) => bail!("Could not get info for meeting id={id}: its server is gone"),
        };
        let text = |name: &str| root.child_text(name).unwrap_or_default();
        self.out
            .line(format!("\nMeeting ID: {}", text("meetingID")))?;
        self.out
            .line(format!("\tMeeting Name: {}", text("meetingName")))?;
        self.out.line(format!(
            "\tInternal MeetingID: {}",
            text("internalMeetingID")
        ))?;
        self.out
            .line(format!("\tCreated Date: {}", text("createDate")))?;
        self.out
            .line(format!("\tRecording Enabled: {}", text("recording")))?;
        self.out.line(format!("\tServer id: {}", server.id))?;
        self.out.line(format!("\tServer url: {}", server.url))?;
        self.out.line("\tMetaData:")?;
        let metadata = root.child("metadata");
        for key in INFO_METADATA {
            let value = metadata.and_then(|m| m.child_text(key)).unwrap_or_default();
            self.out.line(format!("\t\t{key}: {value}"))?;
        }
        Ok(())
    }
}
