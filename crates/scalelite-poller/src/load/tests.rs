use std::time::Duration;

use scalelite_core::bbb::xml::{self, MeetingSummary};
use scalelite_core::domain::ServerStats;

use crate::load::{LoadRules, compute_load, compute_stats, scaled_load};

const NOW: i64 = 10_000_000_000;
const RULES: LoadRules = LoadRules {
    min_user_count: 15,
    join_buffer: Duration::from_secs(900),
};

fn meeting(
    participants: i64,
    moderators: i64,
    videos: i64,
    created_ms: i64,
    breakout: bool,
) -> MeetingSummary {
    MeetingSummary {
        meeting_id: format!("m{participants}-{created_ms}"),
        participant_count: participants,
        moderator_count: moderators,
        video_count: videos,
        create_time_ms: created_ms,
        is_breakout: breakout,
        ..MeetingSummary::default()
    }
}

fn check(meetings: &[MeetingSummary], expected: f64) {
    assert_eq!(compute_load(meetings, RULES, NOW), expected, "{meetings:?}");
}

#[test]
fn load_counts_each_participant_once_and_skips_breakouts() {
    let old = NOW - 3_600_000;
    check(
        &[
            meeting(10, 2, 1, old, false),
            meeting(4, 1, 0, old, false),
            meeting(7, 0, 0, old, true),
        ],
        14.0,
    );
}

#[test]
fn young_meetings_count_at_least_the_minimum() {
    let young = NOW - 60_000;
    check(
        &[
            meeting(2, 1, 0, young, false),
            meeting(20, 1, 0, young, false),
        ],
        35.0,
    );
    // A young breakout room still adds nothing.
    check(&[meeting(2, 0, 0, young, true)], 0.0);
    // Young and empty: the whole reservation.
    check(&[meeting(0, 0, 0, young, false)], 15.0);
}

#[test]
fn the_join_buffer_boundary_is_exclusive() {
    let edge = NOW - 900_000;
    check(&[meeting(1, 0, 0, edge, false)], 1.0);
    check(&[meeting(1, 0, 0, edge + 1, false)], 15.0);
}

#[test]
fn no_meetings_no_load() {
    check(&[], 0.0);
}

#[test]
fn stats_cover_breakouts_too() {
    let meetings = [meeting(10, 2, 3, 0, false), meeting(12, 1, 1, 0, true)];
    assert_eq!(
        compute_stats(&meetings),
        ServerStats {
            meetings: 2,
            users: 22,
            largest_meeting: 12,
            videos: 4
        }
    );
    assert_eq!(compute_stats(&[]), ServerStats::default());
}

#[test]
fn load_from_a_get_meetings_answer() {
    let answer = format!(
        "<response><returncode>SUCCESS</returncode><meetings>\
         <meeting><meetingID>a</meetingID><createTime>{old}</createTime><participantCount>8</participantCount>\
         <moderatorCount>2</moderatorCount><videoCount>3</videoCount><isBreakout>false</isBreakout></meeting>\
         <meeting><meetingID>b</meetingID><createTime>{young}</createTime><participantCount>3</participantCount>\
         <moderatorCount>1</moderatorCount><isBreakout>false</isBreakout></meeting>\
         <meeting><meetingID>c</meetingID><createTime>{old}</createTime><participantCount>5</participantCount>\
         <isBreakout>true</isBreakout></meeting>\
         </meetings></response>",
        old = NOW - 3_600_000,
        young = NOW - 1_000,
    );
    let root = xml::parse(answer.as_bytes()).expect("valid XML");
    let meetings = xml::meeting_summaries(&root);
    // 8 (old, moderators not added again) + max(3, 15) (young) + 0 (breakout).
    check(&meetings, 23.0);
    let stats = compute_stats(&meetings);
    assert_eq!(
        (
            stats.meetings,
            stats.users,
            stats.largest_meeting,
            stats.videos
        ),
        (3, 16, 8, 3)
    );
}

#[test]
fn absurd_counts_saturate_instead_of_overflowing() {
    let huge = [
        meeting(i64::MAX, 0, i64::MAX, 0, false),
        meeting(i64::MAX, 0, i64::MAX, 0, false),
    ];
    check(&huge, i64::MAX as f64);
    let stats = compute_stats(&huge);
    assert_eq!(stats.users, i64::MAX);
    assert_eq!(stats.videos, i64::MAX);
    // Just under the edge, the sum is exact.
    check(
        &[
            meeting(i64::MAX - 1, 0, 0, 0, false),
            meeting(1, 0, 0, 0, false),
        ],
        i64::MAX as f64,
    );
}

#[test]
fn the_scaled_load_stays_finite() {
    assert_eq!(scaled_load(10.0, 2.5), 25.0);
    assert_eq!(scaled_load(f64::MAX, 2.0), f64::MAX);
    assert_eq!(scaled_load(1e300, 1e300), f64::MAX);
    assert_eq!(scaled_load(10.0, -1.0), -10.0);
    assert_eq!(scaled_load(f64::MAX, -2.0), f64::MIN);
    assert_eq!(scaled_load(0.0, f64::MAX), 0.0);
    assert_eq!(scaled_load(f64::NAN, 1.0), 0.0);
}
