use super::*;

fn meeting(
    id: &str,
    participants: i64,
    moderators: i64,
    videos: i64,
    created_ms: i64,
    breakout: bool,
) -> MeetingSummary {
    MeetingSummary {
        meeting_id: id.into(),
        participant_count: participants,
        moderator_count: moderators,
        video_count: videos,
        create_time_ms: created_ms,
        is_breakout: breakout,
        ..MeetingSummary::default()
    }
}

#[test]
fn load_counts_each_participant_once_and_skips_breakouts() {
    let settings = PollSettings {
        load_min_user_count: 15,
        load_join_buffer: Duration::from_secs(900),
        ..Default::default()
    };
    let now = 10_000_000_000;
    let old = now - 3_600_000;
    let meetings = [
        meeting("a", 10, 2, 1, old, false),
        meeting("b", 4, 1, 0, old, false),
        meeting("c", 7, 0, 0, old, true),
    ];
    assert_eq!(compute_load(&meetings, &settings, now), 14.0);
}

#[test]
fn young_meetings_count_at_least_the_minimum() {
    let settings = PollSettings {
        load_min_user_count: 15,
        load_join_buffer: Duration::from_secs(900),
        ..Default::default()
    };
    let now = 10_000_000_000;
    let young = now - 60_000;
    let meetings = [
        meeting("a", 2, 1, 0, young, false),
        meeting("b", 20, 1, 0, young, false),
    ];
    assert_eq!(compute_load(&meetings, &settings, now), 35.0);
}

#[test]
fn stats_cover_breakouts_too() {
    let meetings = [
        meeting("a", 10, 2, 3, 0, false),
        meeting("b", 12, 1, 1, 0, true),
    ];
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
