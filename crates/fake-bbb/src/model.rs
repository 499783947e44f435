//! The in-memory state of one fake BBB server and the public value types describing it.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde::{Deserialize, Deserializer, Serialize};
use sha1::{Digest, Sha1};

use crate::FakeError;

/// How a fake server misbehaves. Settable at any time with `FakeServer::set_fault`.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Answer like BBB.
    #[default]
    Normal,
    /// The port is closed: connections are refused and open ones are dropped.
    Refuse,
    /// Accept the connection and read the request, but never answer.
    Hang,
    /// Answer normally after this delay.
    Delay(Duration),
    /// `create` calls take effect and answer after this delay, also when the caller has stopped waiting (as a
    /// loaded BBB server carries out a create whose client timed out); every other call answers normally.
    SlowCreate(Duration),
    /// HTTP 500 with an HTML error page that is not a BBB reply.
    Http500,
    /// HTTP 200 with an HTML page instead of XML.
    Html,
    /// HTTP 200 with bytes that are not XML.
    Garbage,
    /// Every call answers `FAILED` with this messageKey and message.
    Failed(String, String),
}

impl fmt::Debug for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Normal => f.write_str("Normal"),
            Self::Refuse => f.write_str("Refuse"),
            Self::Hang => f.write_str("Hang"),
            Self::Delay(d) => write!(f, "Delay({}ms)", d.as_millis()),
            Self::SlowCreate(d) => write!(f, "SlowCreate({}ms)", d.as_millis()),
            Self::Http500 => f.write_str("Http500"),
            Self::Html => f.write_str("Html"),
            Self::Garbage => f.write_str("Garbage"),
            Self::Failed(key, message) => write!(f, "Failed({key:?}, {message:?})"),
        }
    }
}

/// The JSON form of a [`Fault`] used by the control API:
/// `{"mode": "normal" | "refuse" | "hang" | "delay" | "slow_create" | "http500" | "html" | "garbage" | "failed",
///   "delay_ms": 1500, "message_key": "internalError", "message": "…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// The fault's name, lower case.
    pub mode: String,
    /// For `delay` and `slow_create`: the delay in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `failed`: the messageKey every call answers with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_key: Option<String>,
    /// For `failed`: the message every call answers with (empty when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&Fault> for FaultSpec {
    fn from(fault: &Fault) -> Self {
        let mode = |m: &str| FaultSpec {
            mode: m.to_owned(),
            ..FaultSpec::default()
        };
        match fault {
            Fault::Normal => mode("normal"),
            Fault::Refuse => mode("refuse"),
            Fault::Hang => mode("hang"),
            Fault::Delay(d) => FaultSpec {
                delay_ms: Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                ..mode("delay")
            },
            Fault::SlowCreate(d) => FaultSpec {
                delay_ms: Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                ..mode("slow_create")
            },
            Fault::Http500 => mode("http500"),
            Fault::Html => mode("html"),
            Fault::Garbage => mode("garbage"),
            Fault::Failed(key, message) => FaultSpec {
                message_key: Some(key.clone()),
                message: Some(message.clone()),
                ..mode("failed")
            },
        }
    }
}

impl TryFrom<FaultSpec> for Fault {
    type Error = FakeError;

    fn try_from(spec: FaultSpec) -> Result<Self, FakeError> {
        Ok(match spec.mode.to_ascii_lowercase().as_str() {
            "normal" => Self::Normal,
            "refuse" => Self::Refuse,
            "hang" => Self::Hang,
            "delay" => {
                let ms = spec.delay_ms.ok_or_else(|| {
                    FakeError::InvalidFault("mode delay needs delay_ms".to_owned())
                })?;
                Self::Delay(Duration::from_millis(ms))
            }
            "slow_create" => {
                let ms = spec.delay_ms.ok_or_else(|| {
                    FakeError::InvalidFault("mode slow_create needs delay_ms".to_owned())
                })?;
                Self::SlowCreate(Duration::from_millis(ms))
            }
            "http500" => Self::Http500,
            "html" => Self::Html,
            "garbage" => Self::Garbage,
            "failed" => {
                let key = spec.message_key.filter(|k| !k.is_empty()).ok_or_else(|| {
                    FakeError::InvalidFault("mode failed needs message_key".to_owned())
                })?;
                Self::Failed(key, spec.message.unwrap_or_default())
            }
            other => return Err(FakeError::InvalidFault(format!("unknown mode {other:?}"))),
        })
    }
}

/// A meeting to insert (or replace) directly, without a `create` call. Synthetic attendees make the counts show in
/// getMeetings and getMeetingInfo. Every field but `meeting_id` has a default, also in JSON.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct SeedMeeting {
    /// The external meeting ID.
    pub meeting_id: String,
    /// The meeting name; empty means the meeting ID.
    pub name: String,
    /// Attendees in total (BBB's participantCount, which includes moderators).
    pub participant_count: u32,
    /// How many of the attendees are moderators; at most `participant_count`.
    pub moderator_count: u32,
    /// BBB's videoCount.
    pub video_count: u32,
    /// BBB's listenerCount.
    pub listener_count: u32,
    /// BBB's voiceParticipantCount.
    pub voice_participant_count: u32,
    /// createTime in ms since the epoch; absent means now.
    pub create_time_ms: Option<u64>,
    /// Whether the meeting is a breakout room.
    pub is_breakout: bool,
    /// For a breakout room: the parent's internal meeting ID.
    pub parent_meeting_id: Option<String>,
    /// Report `running=true` even without attendees.
    pub running: bool,
    /// Metadata (keys without `meta_`). JSON accepts `[["key","value"], …]` or `{"key": "value", …}`.
    #[serde(deserialize_with = "pairs_or_map")]
    pub metadata: Vec<(String, String)>,
    /// attendeePW; generated when absent.
    pub attendee_pw: Option<String>,
    /// moderatorPW; generated when absent.
    pub moderator_pw: Option<String>,
    /// voiceBridge; five random digits when absent.
    pub voice_bridge: Option<String>,
    /// Duration in minutes (0 = unlimited).
    pub duration: u64,
}

impl fmt::Debug for SeedMeeting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords stay out of Debug output.
        f.debug_struct("SeedMeeting")
            .field("meeting_id", &self.meeting_id)
            .field("name", &self.name)
            .field("participant_count", &self.participant_count)
            .field("moderator_count", &self.moderator_count)
            .field("video_count", &self.video_count)
            .field("create_time_ms", &self.create_time_ms)
            .field("is_breakout", &self.is_breakout)
            .field("running", &self.running)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// One attendee of a meeting, as getMeetingInfo reports it.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct AttendeeSnapshot {
    /// userID.
    pub user_id: String,
    /// fullName.
    pub full_name: String,
    /// Whether the role is MODERATOR (otherwise VIEWER).
    pub moderator: bool,
    /// hasVideo.
    pub has_video: bool,
    /// hasJoinedVoice.
    pub has_joined_voice: bool,
    /// `userdata-*` join parameters (prefix removed).
    pub custom_data: Vec<(String, String)>,
}

impl fmt::Debug for AttendeeSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttendeeSnapshot")
            .field("user_id", &self.user_id)
            .field("full_name", &self.full_name)
            .field("moderator", &self.moderator)
            .finish_non_exhaustive()
    }
}

/// A copy of one meeting's state, for in-process checks and the control API.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct MeetingSnapshot {
    /// The external meeting ID.
    pub meeting_id: String,
    /// meetingName.
    pub name: String,
    /// internalMeetingID (`<sha1 of meetingID>-<createTime>`).
    pub internal_meeting_id: String,
    /// attendeePW.
    pub attendee_pw: String,
    /// moderatorPW.
    pub moderator_pw: String,
    /// voiceBridge.
    pub voice_bridge: String,
    /// createTime, ms since the epoch.
    pub create_time_ms: u64,
    /// Duration in minutes.
    pub duration: u64,
    /// What isMeetingRunning reports.
    pub running: bool,
    /// isBreakout.
    pub is_breakout: bool,
    /// participantCount (moderators included).
    pub participant_count: u32,
    /// moderatorCount.
    pub moderator_count: u32,
    /// videoCount.
    pub video_count: u32,
    /// Metadata, keys lower-cased without `meta_`.
    pub metadata: Vec<(String, String)>,
    /// Every parameter of the create call that made the meeting (empty for a seeded meeting).
    pub create_params: Vec<(String, String)>,
    /// The XML body of a create POST (pre-uploaded slides), if any.
    pub create_body: Option<String>,
    /// Bodies received by insertDocument, oldest first.
    pub inserted_documents: Vec<String>,
    /// The attendees.
    pub attendees: Vec<AttendeeSnapshot>,
}

impl fmt::Debug for MeetingSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Passwords stay out of Debug output.
        f.debug_struct("MeetingSnapshot")
            .field("meeting_id", &self.meeting_id)
            .field("name", &self.name)
            .field("internal_meeting_id", &self.internal_meeting_id)
            .field("create_time_ms", &self.create_time_ms)
            .field("running", &self.running)
            .field("is_breakout", &self.is_breakout)
            .field("participant_count", &self.participant_count)
            .field("moderator_count", &self.moderator_count)
            .field("video_count", &self.video_count)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// One request a fake server received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    /// HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The API call name: the last path segment under `/bigbluebutton/api/`; empty for the index and for paths
    /// outside the API.
    pub call: String,
    /// The raw URL query, as it arrived (None when the URL had no `?`).
    pub query: Option<String>,
    /// The decoded parameters: URL query first, then a form-encoded body.
    pub params: Vec<(String, String)>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The Content-Type header.
    pub content_type: Option<String>,
    /// Whether the checksum verified; None when the request needed none (index, paths outside the API).
    pub checksum_ok: Option<bool>,
    /// When it arrived, ms since the epoch.
    pub timestamp_ms: u64,
}

impl LoggedRequest {
    /// The first value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A meeting held by a fake server.
#[derive(Debug, Clone)]
pub(crate) struct Meeting {
    pub(crate) meeting_id: String,
    pub(crate) name: String,
    pub(crate) internal_id: String,
    pub(crate) parent_meeting_id: Option<String>,
    pub(crate) sequence: u32,
    pub(crate) free_join: bool,
    pub(crate) attendee_pw: String,
    pub(crate) moderator_pw: String,
    pub(crate) voice_bridge: String,
    pub(crate) dial_number: String,
    pub(crate) create_time_ms: u64,
    pub(crate) start_time_ms: u64,
    pub(crate) duration: u64,
    pub(crate) max_users: u64,
    pub(crate) metadata: Vec<(String, String)>,
    pub(crate) create_params: Vec<(String, String)>,
    pub(crate) create_body: Option<String>,
    pub(crate) inserted_documents: Vec<String>,
    pub(crate) attendees: Vec<Attendee>,
    pub(crate) video_count: u32,
    pub(crate) listener_count: u32,
    pub(crate) voice_participant_count: u32,
    /// Sticky: set by seeding or by the first join.
    pub(crate) running_flag: bool,
    pub(crate) is_breakout: bool,
}

/// One attendee of a meeting.
#[derive(Debug, Clone)]
pub(crate) struct Attendee {
    pub(crate) user_id: String,
    pub(crate) full_name: String,
    pub(crate) moderator: bool,
    pub(crate) has_video: bool,
    pub(crate) has_joined_voice: bool,
    pub(crate) custom_data: Vec<(String, String)>,
}

/// A join session, for the fake HTML5 client page the join redirect points to.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) meeting_id: String,
    pub(crate) meeting_name: String,
    pub(crate) full_name: String,
    pub(crate) moderator: bool,
}

/// Requests being handled right now, counted across every server that shares it (see
/// `FakeServer::count_in_flight`), and the most seen at once. A request counts from its arrival until its answer
/// is written or its handler is dropped (e.g. a hung request when the server stops).
#[derive(Debug, Clone, Default)]
pub struct InFlight {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
}

impl InFlight {
    /// Requests in flight now.
    pub fn now(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    /// The most requests that were in flight at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }

    /// Count one request until the guard is dropped.
    pub(crate) fn enter(&self) -> InFlightGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        InFlightGuard(self.clone())
    }
}

/// One request counted by an [`InFlight`].
pub(crate) struct InFlightGuard(InFlight);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Everything one fake server holds, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// In creation order; changed only through `upsert`, `remove` and `clear_meetings`, which keep `index`. Boxed:
    /// growing the list past tens of thousands of meetings (benchmarks) then moves pointers, not whole meetings,
    /// while every request waits for the lock.
    #[allow(clippy::vec_box)]
    pub(crate) meetings: Vec<Box<Meeting>>,
    /// Meeting id -> position in `meetings`: a lookup does not walk thousands of meetings (benchmarks create
    /// tens of thousands).
    index: HashMap<String, usize>,
    pub(crate) log: Vec<LoggedRequest>,
    /// Requests are not logged (`FakeServer::set_request_log`).
    pub(crate) no_request_log: bool,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) fault: Fault,
    pub(crate) in_flight: Option<InFlight>,
}

impl State {
    pub(crate) fn meeting(&self, meeting_id: &str) -> Option<&Meeting> {
        self.index.get(meeting_id).map(|&i| &*self.meetings[i])
    }

    pub(crate) fn meeting_mut(&mut self, meeting_id: &str) -> Option<&mut Meeting> {
        self.index.get(meeting_id).map(|&i| &mut *self.meetings[i])
    }

    /// Room for `additional` more meetings without growing the list or its index.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.meetings.reserve(additional);
        self.index.reserve(additional);
    }

    /// Insert `meeting`, replacing one with the same ID in place.
    pub(crate) fn upsert(&mut self, meeting: Meeting) {
        match self.meeting_mut(&meeting.meeting_id) {
            Some(slot) => *slot = meeting,
            None => {
                self.index
                    .insert(meeting.meeting_id.clone(), self.meetings.len());
                self.meetings.push(Box::new(meeting));
            }
        }
    }

    /// Remove a meeting and its join sessions; false when there was none.
    pub(crate) fn remove(&mut self, meeting_id: &str) -> bool {
        let before = self.meetings.len();
        self.meetings.retain(|m| m.meeting_id != meeting_id);
        self.sessions.retain(|_, s| s.meeting_id != meeting_id);
        if self.meetings.len() == before {
            return false;
        }
        self.index = self
            .meetings
            .iter()
            .enumerate()
            .map(|(i, m)| (m.meeting_id.clone(), i))
            .collect();
        true
    }

    /// Remove every meeting and join session.
    pub(crate) fn clear_meetings(&mut self) {
        self.meetings.clear();
        self.index.clear();
        self.sessions.clear();
    }
}

impl Meeting {
    /// A fresh meeting with generated passwords and voice bridge, created `now_ms`.
    pub(crate) fn new(meeting_id: &str, name: &str, now_ms: u64) -> Self {
        Self {
            meeting_id: meeting_id.to_owned(),
            name: if name.is_empty() {
                meeting_id.to_owned()
            } else {
                name.to_owned()
            },
            internal_id: internal_meeting_id(meeting_id, now_ms),
            parent_meeting_id: None,
            sequence: 0,
            free_join: false,
            attendee_pw: random_alphanumeric(8),
            moderator_pw: random_alphanumeric(8),
            voice_bridge: random_voice_bridge(),
            dial_number: "613-555-1234".to_owned(),
            create_time_ms: now_ms,
            start_time_ms: 0,
            duration: 0,
            max_users: 0,
            metadata: Vec::new(),
            create_params: Vec::new(),
            create_body: None,
            inserted_documents: Vec::new(),
            attendees: Vec::new(),
            video_count: 0,
            listener_count: 0,
            voice_participant_count: 0,
            running_flag: false,
            is_breakout: false,
        }
    }

    /// Build a meeting from a seed, with synthetic attendees.
    pub(crate) fn from_seed(seed: SeedMeeting, now_ms: u64) -> Result<Self, FakeError> {
        if seed.meeting_id.is_empty() {
            return Err(FakeError::InvalidSeed("meeting_id is empty".to_owned()));
        }
        if seed.moderator_count > seed.participant_count {
            return Err(FakeError::InvalidSeed(format!(
                "moderator_count {} exceeds participant_count {} (participantCount includes moderators)",
                seed.moderator_count, seed.participant_count
            )));
        }
        let create_time_ms = seed.create_time_ms.unwrap_or(now_ms);
        let mut meeting = Self::new(&seed.meeting_id, &seed.name, create_time_ms);
        if let Some(pw) = seed.attendee_pw {
            meeting.attendee_pw = pw;
        }
        if let Some(pw) = seed.moderator_pw {
            meeting.moderator_pw = pw;
        }
        if let Some(vb) = seed.voice_bridge {
            meeting.voice_bridge = vb;
        }
        meeting.duration = seed.duration;
        meeting.is_breakout = seed.is_breakout;
        meeting.parent_meeting_id = seed.parent_meeting_id;
        meeting.video_count = seed.video_count;
        meeting.listener_count = seed.listener_count;
        meeting.voice_participant_count = seed.voice_participant_count;
        meeting.running_flag = seed.running;
        for (key, value) in seed.metadata {
            set_pair(&mut meeting.metadata, key.to_lowercase(), value);
        }
        meeting.attendees = (0..seed.participant_count)
            .map(|i| Attendee {
                user_id: format!("w_seed{}", i + 1),
                full_name: format!("Seeded User {}", i + 1),
                moderator: i < seed.moderator_count,
                has_video: i < seed.video_count,
                has_joined_voice: i < seed.voice_participant_count,
                custom_data: Vec::new(),
            })
            .collect();
        if meeting.running() {
            meeting.start_time_ms = create_time_ms;
        }
        Ok(meeting)
    }

    /// What isMeetingRunning and getMeetingInfo report.
    pub(crate) fn running(&self) -> bool {
        self.running_flag || !self.attendees.is_empty()
    }

    pub(crate) fn participant_count(&self) -> u32 {
        u32::try_from(self.attendees.len()).unwrap_or(u32::MAX)
    }

    pub(crate) fn moderator_count(&self) -> u32 {
        u32::try_from(self.attendees.iter().filter(|a| a.moderator).count()).unwrap_or(u32::MAX)
    }

    /// A copy for callers outside the lock.
    pub(crate) fn snapshot(&self) -> MeetingSnapshot {
        MeetingSnapshot {
            meeting_id: self.meeting_id.clone(),
            name: self.name.clone(),
            internal_meeting_id: self.internal_id.clone(),
            attendee_pw: self.attendee_pw.clone(),
            moderator_pw: self.moderator_pw.clone(),
            voice_bridge: self.voice_bridge.clone(),
            create_time_ms: self.create_time_ms,
            duration: self.duration,
            running: self.running(),
            is_breakout: self.is_breakout,
            participant_count: self.participant_count(),
            moderator_count: self.moderator_count(),
            video_count: self.video_count,
            metadata: self.metadata.clone(),
            create_params: self.create_params.clone(),
            create_body: self.create_body.clone(),
            inserted_documents: self.inserted_documents.clone(),
            attendees: self
                .attendees
                .iter()
                .map(|a| AttendeeSnapshot {
                    user_id: a.user_id.clone(),
                    full_name: a.full_name.clone(),
                    moderator: a.moderator,
                    has_video: a.has_video,
                    has_joined_voice: a.has_joined_voice,
                    custom_data: a.custom_data.clone(),
                })
                .collect(),
        }
    }
}

/// Set `key` in an ordered list of pairs: replace the value in place, or append.
pub(crate) fn set_pair(pairs: &mut Vec<(String, String)>, key: String, value: String) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((key, value)),
    }
}

/// BBB's internal meeting ID: sha1 hex of the external ID, a dash, the create time in ms.
pub(crate) fn internal_meeting_id(meeting_id: &str, create_time_ms: u64) -> String {
    format!(
        "{}-{create_time_ms}",
        hex::encode(Sha1::digest(meeting_id.as_bytes()))
    )
}

/// `len` random ASCII letters and digits.
pub(crate) fn random_alphanumeric(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Five random digits, the first not zero.
pub(crate) fn random_voice_bridge() -> String {
    rand::rng().random_range(10_000..100_000u32).to_string()
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Accept metadata as a list of pairs or as a JSON object.
fn pairs_or_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum PairsOrMap {
        Pairs(Vec<(String, String)>),
        Map(std::collections::BTreeMap<String, String>),
    }
    Ok(match PairsOrMap::deserialize(deserializer)? {
        PairsOrMap::Pairs(pairs) => pairs,
        PairsOrMap::Map(map) => map.into_iter().collect(),
    })
}
