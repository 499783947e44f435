use std::time::Duration;

use scalelite_core::config::{MeetingArgs, PollerArgs};

use crate::PollSettings;

#[test]
fn settings_follow_the_original_variables() {
    let poller = PollerArgs {
        poll_interval: Duration::from_millis(2500),
        server_healthy_threshold: 3,
        server_unhealthy_threshold: 4,
        poller_threads: 5,
        poller_wait_timeout: Duration::from_secs(7),
        load_min_user_count: 9,
        load_join_buffer_time: Duration::from_secs(120),
    };
    let meetings = MeetingArgs {
        default_meeting_ttl: Duration::from_secs(3600),
        meeting_failover: true,
        ..MeetingArgs::default()
    };
    let settings = PollSettings::from_config(&poller, &meetings);
    assert_eq!(
        settings,
        PollSettings {
            healthy_threshold: 3,
            unhealthy_threshold: 4,
            load_min_user_count: 9,
            load_join_buffer: Duration::from_secs(120),
            meeting_ttl: Duration::from_secs(3600),
            concurrency: 4,
            interval: Duration::from_millis(2500),
            server_timeout: Duration::from_secs(7),
            ended_grace: None,
            version_refresh_cycles: 10,
            meeting_failover: true,
        }
    );
}

/// POLLER_THREADS is the original's pool size plus one; 1, which fails there, polls one server at a time.
#[test]
fn poller_threads_is_the_original_pool_size_plus_one() {
    for (threads, concurrency) in [(1, 1), (2, 1), (3, 2), (5, 4), (201, 200)] {
        let poller = PollerArgs {
            poller_threads: threads,
            ..PollerArgs::default()
        };
        let settings = PollSettings::from_config(&poller, &MeetingArgs::default());
        assert_eq!(
            settings.concurrency, concurrency,
            "POLLER_THREADS={threads}"
        );
    }
}

#[test]
fn defaults_match_the_original() {
    let settings = PollSettings::from_config(&PollerArgs::default(), &MeetingArgs::default());
    assert_eq!(settings, PollSettings::default());
}

#[test]
fn the_lease_outlives_an_interval_with_margin() {
    let with_interval = |ms| PollSettings {
        interval: Duration::from_millis(ms),
        ..PollSettings::default()
    };
    assert_eq!(with_interval(60_000).lease_ttl(), Duration::from_secs(120));
    assert_eq!(with_interval(200).lease_ttl(), Duration::from_millis(1200));
    assert_eq!(with_interval(1000).lease_ttl(), Duration::from_secs(2));
}

/// `PollSettings::from_config` from the environment as the binary parses it: distinct values, so a swap fails.
#[test]
fn settings_from_the_environment() {
    use std::collections::HashMap;

    use scalelite_core::config::from_env_map;

    let env: HashMap<String, String> = [
        ("POLL_INTERVAL", "0.5"),
        ("SERVER_HEALTHY_THRESHOLD", "6"),
        ("SERVER_UNHEALTHY_THRESHOLD", "7"),
        ("POLLER_THREADS", "9"),
        ("POLLER_WAIT_TIMEOUT", "11"),
        ("LOAD_MIN_USER_COUNT", "12"),
        ("LOAD_JOIN_BUFFER_TIME", "13"),
        ("DEFAULT_MEETING_TTL", "14"),
        ("MEETING_FAILOVER", "false"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let settings = PollSettings::from_config(
        &from_env_map::<PollerArgs>(&env).unwrap(),
        &from_env_map::<MeetingArgs>(&env).unwrap(),
    );
    assert_eq!(
        settings,
        PollSettings {
            healthy_threshold: 6,
            unhealthy_threshold: 7,
            load_min_user_count: 12,
            load_join_buffer: Duration::from_secs(13 * 60),
            meeting_ttl: Duration::from_secs(14),
            concurrency: 8,
            interval: Duration::from_millis(500),
            server_timeout: Duration::from_secs(11),
            ended_grace: None,
            version_refresh_cycles: 10,
            meeting_failover: false,
        }
    );
}
