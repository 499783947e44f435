//! What a server's `getMeetings` answer says about its load and statistics (`docs/compatibility.md#poller-load`:
//! each participant counts once). Pure functions, no IO.

use std::time::Duration;

use scalelite_core::bbb::xml::MeetingSummary;
use scalelite_core::domain::ServerStats;

/// The rules `compute_load` applies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadRules {
    /// `LOAD_MIN_USER_COUNT`: a meeting younger than `join_buffer` counts at least this many participants.
    pub min_user_count: i64,
    /// `LOAD_JOIN_BUFFER_TIME`.
    pub join_buffer: Duration,
}

/// Load of a server before its `load_multiplier`: each participant of a non-breakout meeting counts once (the
/// original adds `moderatorCount` on top of `participantCount`, which already includes moderators); a meeting
/// created less than `join_buffer` before `now_ms` counts at least `min_user_count`, so a fresh meeting reserves
/// room for the people about to join it. Breakout rooms add nothing (their participants are counted in the parent).
///
/// The counts come from the BBB server's answer, so the sums saturate: absurd counts give a huge load, never an
/// overflow (a panic, or a wrapped negative load that would attract every new meeting).
pub fn compute_load(meetings: &[MeetingSummary], rules: LoadRules, now_ms: i64) -> f64 {
    let buffer_ms = i64::try_from(rules.join_buffer.as_millis()).unwrap_or(i64::MAX);
    let young_since = now_ms.saturating_sub(buffer_ms);
    let total: i64 = meetings
        .iter()
        .filter(|m| !m.is_breakout)
        .map(|m| {
            let attendees = m.participant_count.max(0);
            if m.create_time_ms > young_since {
                attendees.max(rules.min_user_count)
            } else {
                attendees
            }
        })
        .fold(0i64, i64::saturating_add);
    total as f64
}

/// `load × load_multiplier`, kept finite whatever the multiplier, so the stores (Redis refuses an infinite float)
/// and the ordering of servers stay sound.
pub fn scaled_load(load: f64, multiplier: f64) -> f64 {
    let scaled = load * multiplier;
    if scaled.is_nan() {
        0.0
    } else {
        scaled.clamp(f64::MIN, f64::MAX)
    }
}

/// Statistics over every meeting of a server, breakout rooms included: meetings, users (`participantCount`),
/// the largest meeting and videos.
pub fn compute_stats(meetings: &[MeetingSummary]) -> ServerStats {
    ServerStats {
        meetings: meetings.len() as i64,
        users: meetings
            .iter()
            .map(|m| m.participant_count.max(0))
            .fold(0, i64::saturating_add),
        largest_meeting: meetings
            .iter()
            .map(|m| m.participant_count.max(0))
            .max()
            .unwrap_or(0),
        videos: meetings
            .iter()
            .map(|m| m.video_count.max(0))
            .fold(0, i64::saturating_add),
    }
}

#[cfg(test)]
mod tests;
