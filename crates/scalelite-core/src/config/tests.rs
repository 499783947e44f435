use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;
use crate::bbb::checksum::{Algorithm, AllowedAlgorithms};
use crate::domain::Secret;

/// What a binary does: flatten every concern.
#[derive(Parser, Debug)]
struct All {
    #[command(flatten)]
    secrets: SecretsArgs,
    #[command(flatten)]
    bbb: BbbClientArgs,
    #[command(flatten)]
    meeting: MeetingArgs,
    #[command(flatten)]
    poller: PollerArgs,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    http: HttpArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    shutdown: ShutdownArgs,
    #[command(flatten)]
    log: LogArgs,
    #[command(flatten)]
    misc: MiscArgs,
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn parse(pairs: &[(&str, &str)]) -> Result<All, ConfigError> {
    from_env_map(&env(pairs))
}

fn parse_ok(pairs: &[(&str, &str)]) -> All {
    match parse(pairs) {
        Ok(all) => all,
        Err(err) => panic!("{pairs:?} should parse: {err}"),
    }
}

fn parse_err(pairs: &[(&str, &str)]) -> String {
    match parse(pairs) {
        Ok(all) => panic!("{pairs:?} should fail, got {all:?}"),
        Err(err) => err.to_string(),
    }
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn mins(minutes: u64) -> Duration {
    Duration::from_secs(minutes * 60)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn exposed(secrets: &[Secret]) -> Vec<&str> {
    secrets.iter().map(Secret::expose).collect()
}

/// Every (env name, arg) of the flattened command.
fn all_env_args() -> Vec<(String, clap::Arg)> {
    All::command()
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_str()?.to_owned();
            Some((name, arg.clone()))
        })
        .collect()
}

// --- defaults -----------------------------------------------------------------------------------------------------

#[test]
fn defaults_match_the_original() {
    let all = parse_ok(&[]);

    let s = &all.secrets;
    assert_eq!(s.loadbalancer_secret, None);
    assert_eq!(s.loadbalancer_secrets, None);
    assert_eq!(s.loadbalancer_checksum_algorithm, None);
    assert!(!s.multitenancy_enabled);
    assert_eq!(s.url_host, None);
    assert_eq!(s.fsapi_password, None);

    assert_eq!(all.bbb.connect_timeout, secs(5));
    assert_eq!(all.bbb.response_timeout, secs(10));

    let m = &all.meeting;
    assert_eq!(m.max_meeting_duration, Duration::ZERO);
    assert_eq!(m.default_meeting_ttl, secs(86_400));
    assert!(m.create_exclude_params.is_empty());
    assert!(m.join_exclude_params.is_empty());
    assert!(m.default_create_params.is_empty());
    assert!(m.override_create_params.is_empty());
    assert!(m.default_join_params.is_empty());
    assert!(m.override_join_params.is_empty());
    assert_eq!(
        (m.voice_bridge_len, m.voice_bridge_min, m.voice_bridge_max),
        (9, 5, 9)
    );
    assert!(!m.use_external_voice_bridge);
    assert!(m.meeting_failover);
    assert!(!m.get_meetings_api_disabled);
    assert!(!m.server_id_is_hostname);
    assert_eq!(m.fsapi_max_duration, None);

    let p = &all.poller;
    assert_eq!(p.poll_interval, secs(60));
    assert_eq!(p.server_healthy_threshold, 1);
    assert_eq!(p.server_unhealthy_threshold, 2);
    assert_eq!(p.poller_threads, 5);
    assert_eq!(p.poller_wait_timeout, secs(10));
    assert_eq!(p.load_min_user_count, 15);
    assert_eq!(p.load_join_buffer_time, mins(15));

    let r = &all.recording;
    assert!(!r.recording_disabled);
    assert!(!r.get_recordings_api_filtered);
    assert_eq!(
        r.recording_spool_dir,
        PathBuf::from("/var/bigbluebutton/spool")
    );
    assert_eq!(
        r.recording_work_dir,
        PathBuf::from("/var/bigbluebutton/recording/scalelite")
    );
    assert_eq!(
        r.recording_publish_dir,
        PathBuf::from("/var/bigbluebutton/published")
    );
    assert_eq!(
        r.recording_unpublish_dir,
        PathBuf::from("/var/bigbluebutton/unpublished")
    );
    assert!(!r.recording_import_unpublished);
    assert_eq!(
        r.recording_playback_formats,
        strings(&[
            "presentation",
            "video",
            "screenshare",
            "podcast",
            "notes",
            "capture"
        ])
    );
    assert!(!r.protected_recordings_enabled);
    assert_eq!(r.protected_recordings_token_timeout, mins(60));
    assert_eq!(r.protected_recordings_timeout, mins(360));
    assert_eq!(r.recording_import_poll_interval, secs(60));
    assert_eq!(r.db_connection_retry_count, 3);
    assert!(!r.s3_recording);
    assert_eq!(r.s3_bucket_name, None);
    assert_eq!(r.aws_region, "us-east-1");
    assert_eq!(r.aws_access_key_id, None);
    assert_eq!(r.aws_secret_access_key, None);
    assert_eq!(r.aws_session_token, None);
    assert_eq!(r.aws_endpoint_url, None);
    assert_eq!(r.cloudfront_url, None);
    assert_eq!(r.cf_private_key_b64, None);
    assert_eq!(r.cf_key_pair_id, None);

    let st = &all.storage;
    assert_eq!(st.database_url, None);
    assert_eq!(st.redis_url, None);
    assert_eq!(st.redis_namespace, "scalelite");
    assert_eq!(st.redis_pool, 5);
    assert!(st.prepared_statement);
    assert_eq!(st.scalelite_data_dir, None);

    assert_eq!(all.http.port, 3000);
    assert_eq!(all.http.bind, None);
    assert_eq!(
        all.http.listen_addr(),
        "0.0.0.0:3000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(all.metrics.metrics_bind, None);
    assert_eq!(all.shutdown.shutdown_grace_period, secs(30));

    assert_eq!(all.log.rust_log, None);
    assert_eq!(all.log.rails_log_level, None);
    assert_eq!(all.log.log_format, LogFormat::Plain);

    assert_eq!(all.misc.build_number, None);
    assert_eq!(all.misc.secret_key_base, None);
    assert_eq!(all.misc.default_locale, "en");
}

#[test]
fn default_impls_equal_an_empty_environment() {
    let all = parse_ok(&[]);
    assert_eq!(SecretsArgs::default(), all.secrets);
    assert_eq!(BbbClientArgs::default(), all.bbb);
    assert_eq!(MeetingArgs::default(), all.meeting);
    assert_eq!(PollerArgs::default(), all.poller);
    assert_eq!(RecordingArgs::default(), all.recording);
    assert_eq!(StorageArgs::default(), all.storage);
    assert_eq!(HttpArgs::default(), all.http);
    assert_eq!(MetricsArgs::default(), all.metrics);
    assert_eq!(ShutdownArgs::default(), all.shutdown);
    assert_eq!(LogArgs::default(), all.log);
    assert_eq!(MiscArgs::default(), all.misc);
}

#[test]
fn each_struct_parses_on_its_own_through_the_trait() {
    let poller = PollerArgs::from_env_map(&env(&[("POLLER_THREADS", "7")])).unwrap();
    assert_eq!(poller.poller_threads, 7);
    // Variables of other structs are not this struct's business.
    let http = HttpArgs::from_env_map(&env(&[("POLLER_THREADS", "x"), ("PORT", "8080")])).unwrap();
    assert_eq!(http.port, 8080);
}

// --- every variable can be overridden -----------------------------------------------------------------------------

type Check = fn(&All) -> bool;

/// (variable, value, check) for every variable in `ENV_VARS`.
const OVERRIDES: &[(&str, &str, Check)] = &[
    ("LOADBALANCER_SECRET", "s1", |a| {
        a.secrets.loadbalancer_secret == Some(Secret::new("s1"))
    }),
    ("LOADBALANCER_SECRETS", "s2:s3", |a| {
        a.secrets.loadbalancer_secrets == Some(Secret::new("s2:s3"))
    }),
    ("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA256", |a| {
        inbound(&a.secrets.checksum_algorithms()) == [Algorithm::Sha256]
    }),
    ("MULTITENANCY_ENABLED", "TRUE", |a| {
        a.secrets.multitenancy_enabled
    }),
    ("URL_HOST", "sl.example.com", |a| {
        a.secrets.url_host.as_deref() == Some("sl.example.com")
    }),
    ("FSAPI_PASSWORD", "pw", |a| {
        a.secrets.fsapi_password == Some(Secret::new("pw"))
    }),
    ("FSAPI_AUTH_DISABLED", "true", |a| {
        a.secrets.fsapi_auth_disabled
    }),
    ("ADMIN_API_SECRET", "adm", |a| {
        a.secrets.admin_api_secret == Some(Secret::new("adm"))
    }),
    ("ADMIN_API_LEGACY_CHECKSUM", "yes", |a| {
        a.secrets.admin_api_legacy_checksum
    }),
    ("ADMIN_API_MAX_AGE", "300", |a| {
        a.secrets.admin_api_max_age == Duration::from_secs(300)
    }),
    ("CONNECT_TIMEOUT", "0.5", |a| {
        a.bbb.connect_timeout == Duration::from_millis(500)
    }),
    ("RESPONSE_TIMEOUT", "2.25", |a| {
        a.bbb.response_timeout == Duration::from_millis(2250)
    }),
    ("BBB_MAX_RESPONSE_SIZE", "1024", |a| {
        a.bbb.bbb_max_response_size == 1024
    }),
    ("MAX_MEETING_DURATION", "90", |a| {
        a.meeting.max_meeting_duration == mins(90)
    }),
    ("DEFAULT_MEETING_TTL", "3600", |a| {
        a.meeting.default_meeting_ttl == secs(3600)
    }),
    ("CREATE_EXCLUDE_PARAMS", "record, logo", |a| {
        a.meeting.create_exclude_params == strings(&["record", "logo"])
    }),
    ("JOIN_EXCLUDE_PARAMS", "avatarURL", |a| {
        a.meeting.join_exclude_params == strings(&["avatarURL"])
    }),
    ("DEFAULT_CREATE_PARAMS", "record=true", |a| {
        a.meeting.default_create_params == pairs(&[("record", "true")])
    }),
    ("OVERRIDE_CREATE_PARAMS", "meta_server-tag=gpu!", |a| {
        a.meeting.override_create_params == pairs(&[("meta_server-tag", "gpu!")])
    }),
    ("DEFAULT_JOIN_PARAMS", "userdata-x=1", |a| {
        a.meeting.default_join_params == pairs(&[("userdata-x", "1")])
    }),
    ("OVERRIDE_JOIN_PARAMS", "guest=false", |a| {
        a.meeting.override_join_params == pairs(&[("guest", "false")])
    }),
    ("VOICE_BRIDGE_LEN", "7", |a| a.meeting.voice_bridge_len == 7),
    ("VOICE_BRIDGE_MIN", "4", |a| a.meeting.voice_bridge_min == 4),
    ("VOICE_BRIDGE_MAX", "11", |a| {
        a.meeting.voice_bridge_max == 11
    }),
    ("USE_EXTERNAL_VOICE_BRIDGE", "yes", |a| {
        a.meeting.use_external_voice_bridge
    }),
    ("MEETING_FAILOVER", "false", |a| !a.meeting.meeting_failover),
    ("GET_MEETINGS_API_DISABLED", "true", |a| {
        a.meeting.get_meetings_api_disabled
    }),
    ("SERVER_ID_IS_HOSTNAME", "on", |a| {
        a.meeting.server_id_is_hostname
    }),
    ("FSAPI_MAX_DURATION", "30", |a| {
        a.meeting.fsapi_max_duration == Some(mins(30))
    }),
    ("POLL_INTERVAL", "2.5", |a| {
        a.poller.poll_interval == Duration::from_millis(2500)
    }),
    ("SERVER_HEALTHY_THRESHOLD", "3", |a| {
        a.poller.server_healthy_threshold == 3
    }),
    ("SERVER_UNHEALTHY_THRESHOLD", "4", |a| {
        a.poller.server_unhealthy_threshold == 4
    }),
    ("POLLER_THREADS", "12", |a| a.poller.poller_threads == 12),
    ("POLLER_WAIT_TIMEOUT", "20", |a| {
        a.poller.poller_wait_timeout == secs(20)
    }),
    ("LOAD_MIN_USER_COUNT", "0", |a| {
        a.poller.load_min_user_count == 0
    }),
    ("LOAD_JOIN_BUFFER_TIME", "5", |a| {
        a.poller.load_join_buffer_time == mins(5)
    }),
    ("RECORDING_DISABLED", "1", |a| {
        a.recording.recording_disabled
    }),
    ("GET_RECORDINGS_API_FILTERED", "True", |a| {
        a.recording.get_recordings_api_filtered
    }),
    ("RECORDING_SPOOL_DIR", "/srv/spool", |a| {
        a.recording.recording_spool_dir == std::path::Path::new("/srv/spool")
    }),
    ("RECORDING_WORK_DIR", "/srv/work", |a| {
        a.recording.recording_work_dir == std::path::Path::new("/srv/work")
    }),
    ("RECORDING_PUBLISH_DIR", "/srv/pub", |a| {
        a.recording.recording_publish_dir == std::path::Path::new("/srv/pub")
    }),
    ("RECORDING_UNPUBLISH_DIR", "/srv/unpub", |a| {
        a.recording.recording_unpublish_dir == std::path::Path::new("/srv/unpub")
    }),
    ("RECORDING_IMPORT_UNPUBLISHED", "true", |a| {
        a.recording.recording_import_unpublished
    }),
    ("RECORDING_PLAYBACK_FORMATS", "presentation:video", |a| {
        a.recording.recording_playback_formats == strings(&["presentation", "video"])
    }),
    ("PROTECTED_RECORDINGS_ENABLED", "true", |a| {
        a.recording.protected_recordings_enabled
    }),
    ("PROTECTED_RECORDINGS_TOKEN_TIMEOUT", "5", |a| {
        a.recording.protected_recordings_token_timeout == mins(5)
    }),
    ("PROTECTED_RECORDINGS_TIMEOUT", "10", |a| {
        a.recording.protected_recordings_timeout == mins(10)
    }),
    ("RECORDING_IMPORT_POLL_INTERVAL", "0.25", |a| {
        a.recording.recording_import_poll_interval == Duration::from_millis(250)
    }),
    ("DB_CONNECTION_RETRY_COUNT", "9", |a| {
        a.recording.db_connection_retry_count == 9
    }),
    ("RECORDING_IMPORT_MAX_ENTRIES", "10", |a| {
        a.recording.recording_import_max_entries == 10
    }),
    ("RECORDING_IMPORT_MAX_SIZE", "1000", |a| {
        a.recording.recording_import_max_size == 1000
    }),
    ("RECORDING_IMPORT_MAX_FILE_SIZE", "100", |a| {
        a.recording.recording_import_max_file_size == 100
    }),
    ("S3_RECORDING", "true", |a| a.recording.s3_recording),
    ("S3_BUCKET_NAME", "bucket", |a| {
        a.recording.s3_bucket_name.as_deref() == Some("bucket")
    }),
    ("AWS_REGION", "eu-central-1", |a| {
        a.recording.aws_region == "eu-central-1"
    }),
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", |a| {
        a.recording.aws_access_key_id.as_deref() == Some("AKIDEXAMPLE")
    }),
    ("AWS_SECRET_ACCESS_KEY", "sk", |a| {
        a.recording.aws_secret_access_key == Some(Secret::new("sk"))
    }),
    ("AWS_SESSION_TOKEN", "st", |a| {
        a.recording.aws_session_token == Some(Secret::new("st"))
    }),
    ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000", |a| {
        a.recording.aws_endpoint_url.as_deref() == Some("http://127.0.0.1:9000")
    }),
    ("S3_MULTIPART_THRESHOLD", "1048576", |a| {
        a.recording.s3_multipart_threshold == 1_048_576
    }),
    ("S3_PART_SIZE", "16777216", |a| {
        a.recording.s3_part_size == 16_777_216
    }),
    ("CLOUDFRONT_URL", "https://cf.example.com", |a| {
        a.recording.cloudfront_url.as_deref() == Some("https://cf.example.com")
    }),
    ("CF_PRIVATE_KEY_B64", "a2V5", |a| {
        a.recording.cf_private_key_b64 == Some(Secret::new("a2V5"))
    }),
    ("CF_KEY_PAIR_ID", "K123", |a| {
        a.recording.cf_key_pair_id.as_deref() == Some("K123")
    }),
    ("DATABASE_URL", "postgres://db/scalelite", |a| {
        a.storage.database_url.as_deref() == Some("postgres://db/scalelite")
    }),
    ("REDIS_URL", "redis://cache:6380", |a| {
        a.storage.redis_url.as_deref() == Some("redis://cache:6380")
    }),
    ("REDIS_NAMESPACE", "other", |a| {
        a.storage.redis_namespace == "other"
    }),
    ("REDIS_POOL", "20", |a| a.storage.redis_pool == 20),
    ("REDIS_TIMEOUT", "0.5", |a| {
        a.storage.redis_timeout == Duration::from_millis(500)
    }),
    ("PREPARED_STATEMENT", "false", |a| {
        !a.storage.prepared_statement
    }),
    ("SCALELITE_DATA_DIR", "/data", |a| {
        a.storage.scalelite_data_dir == Some(PathBuf::from("/data"))
    }),
    ("PORT", "8080", |a| a.http.port == 8080),
    ("BIND", "tcp://127.0.0.1:4000", |a| {
        a.http.bind == Some("127.0.0.1:4000".parse().unwrap())
    }),
    ("METRICS_BIND", "127.0.0.1:9100", |a| {
        a.metrics.metrics_bind == Some("127.0.0.1:9100".parse().unwrap())
    }),
    ("HTTP_HEADER_TIMEOUT", "1.5", |a| {
        a.http.http_header_timeout == Duration::from_millis(1500)
    }),
    ("HTTP_BODY_TIMEOUT", "2", |a| {
        a.http.http_body_timeout == secs(2)
    }),
    ("HTTP_KEEPALIVE_TIMEOUT", "3", |a| {
        a.http.http_keepalive_timeout == secs(3)
    }),
    ("MAX_REQUEST_BODY_SIZE", "1000", |a| {
        a.http.max_request_body_size == 1000
    }),
    ("MAX_SMALL_BODY_SIZE", "100", |a| {
        a.http.max_small_body_size == 100
    }),
    ("MAX_CONCURRENT_REQUESTS", "4", |a| {
        a.http.max_concurrent_requests == 4
    }),
    ("METRICS_PUBLIC", "yes", |a| a.http.metrics_public),
    ("SHUTDOWN_GRACE_PERIOD", "1.5", |a| {
        a.shutdown.shutdown_grace_period == Duration::from_millis(1500)
    }),
    ("RUST_LOG", "debug,hyper=warn", |a| {
        a.log.rust_log.as_deref() == Some("debug,hyper=warn")
    }),
    ("RAILS_LOG_LEVEL", "WARN", |a| {
        a.log.rails_log_level == Some(LogLevel::Warn)
    }),
    ("LOG_FORMAT", "JSON", |a| {
        a.log.log_format == LogFormat::Json
    }),
    ("BUILD_NUMBER", "v1.2-3", |a| {
        a.misc.build_number.as_deref() == Some("v1.2-3")
    }),
    ("SECRET_KEY_BASE", "kb", |a| {
        a.misc.secret_key_base == Some(Secret::new("kb"))
    }),
    ("DEFAULT_LOCALE", "de", |a| a.misc.default_locale == "de"),
];

#[test]
fn every_variable_can_be_overridden() {
    let defaults = parse_ok(&[]);
    for (name, value, check) in OVERRIDES {
        assert!(
            !check(&defaults),
            "{name}: the check must fail on the defaults, or it proves nothing"
        );
        let all = parse_ok(&[(name, value)]);
        assert!(check(&all), "{name}={value:?} was not applied: {all:?}");
    }
}

#[test]
fn the_override_table_covers_every_variable() {
    let tested: HashSet<&str> = OVERRIDES.iter().map(|(name, _, _)| *name).collect();
    let documented: HashSet<&str> = ENV_VARS.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(tested, documented);
    assert_eq!(tested.len(), OVERRIDES.len(), "a variable is listed twice");
}

#[test]
fn all_variables_at_once() {
    let pairs: Vec<(&str, &str)> = OVERRIDES
        .iter()
        .map(|(name, value, _)| (*name, *value))
        .collect();
    let all = parse_ok(&pairs);
    for (name, _, check) in OVERRIDES {
        assert!(check(&all), "{name} lost when everything is set");
    }
}

// --- ENV_VARS against the structs -------------------------------------------------------------------------------

#[test]
fn env_vars_lists_every_field_and_nothing_else() {
    let fields: Vec<String> = all_env_args().into_iter().map(|(name, _)| name).collect();
    let documented: Vec<&str> = ENV_VARS.iter().map(|(name, _, _)| *name).collect();
    for name in &fields {
        assert!(
            documented.contains(&name.as_str()),
            "{name} is read but missing from ENV_VARS"
        );
    }
    for name in &documented {
        assert!(
            fields.iter().any(|field| field == name),
            "{name} is in ENV_VARS but no field reads it"
        );
    }
    let unique: HashSet<&str> = documented.iter().copied().collect();
    assert_eq!(unique.len(), documented.len(), "ENV_VARS has duplicates");
    for (name, _, meaning) in ENV_VARS {
        assert!(!meaning.is_empty(), "{name} has no meaning");
    }
}

#[test]
fn env_vars_defaults_are_the_ones_clap_applies() {
    for (name, arg) in all_env_args() {
        let Some(default) = arg
            .get_default_values()
            .first()
            .and_then(|value| value.to_str())
        else {
            continue;
        };
        if default.is_empty() {
            continue;
        }
        let documented = ENV_VARS
            .iter()
            .find(|(var, _, _)| *var == name)
            .map(|(_, default, _)| *default);
        assert_eq!(documented, Some(default), "default of {name}");
    }
}

#[test]
fn ignored_variables_are_not_read() {
    let read: HashSet<String> = all_env_args().into_iter().map(|(name, _)| name).collect();
    for (name, why) in IGNORED_VARIABLES {
        assert!(!read.contains(*name), "{name} is both read and ignored");
        assert!(!why.is_empty());
    }
    // Setting them to anything changes nothing.
    let junk: Vec<(&str, &str)> = IGNORED_VARIABLES
        .iter()
        .map(|(name, _)| (*name, "%%junk%%"))
        .collect();
    assert_eq!(
        format!("{:?}", parse_ok(&junk)),
        format!("{:?}", parse_ok(&[]))
    );
}

#[test]
fn every_long_flag_is_the_variable_name_and_has_help() {
    for (name, arg) in all_env_args() {
        let long = arg.get_long().unwrap_or_default();
        assert_eq!(
            long.to_ascii_uppercase().replace('-', "_"),
            name,
            "the --{long} flag must match {name}"
        );
        assert!(
            arg.get_help().is_some(),
            "{name} has no doc comment (its --help text)"
        );
    }
}

#[test]
fn secret_and_url_variables_hide_their_values_in_help() {
    let hidden: HashSet<String> = all_env_args()
        .into_iter()
        .filter(|(_, arg)| arg.is_hide_env_values_set())
        .map(|(name, _)| name)
        .collect();
    for name in [
        "LOADBALANCER_SECRET",
        "LOADBALANCER_SECRETS",
        "FSAPI_PASSWORD",
        "ADMIN_API_SECRET",
        "CF_PRIVATE_KEY_B64",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "SECRET_KEY_BASE",
        "DATABASE_URL",
        "REDIS_URL",
    ] {
        assert!(
            hidden.contains(name),
            "{name} would show its value in --help"
        );
    }
}

// --- empty values ------------------------------------------------------------------------------------------------

#[test]
fn an_empty_value_means_the_default() {
    let all = parse_ok(&[
        ("POLLER_THREADS", ""),
        ("RESPONSE_TIMEOUT", " "),
        ("PREPARED_STATEMENT", ""),
        ("MULTITENANCY_ENABLED", ""),
        ("RECORDING_SPOOL_DIR", ""),
        ("RECORDING_PLAYBACK_FORMATS", ""),
        ("REDIS_NAMESPACE", ""),
        ("LOG_FORMAT", ""),
        ("PORT", ""),
    ]);
    assert_eq!(format!("{all:?}"), format!("{:?}", parse_ok(&[])));
}

#[test]
fn an_empty_optional_value_means_unset() {
    let all = parse_ok(&[
        ("URL_HOST", ""),
        ("BIND", ""),
        ("DATABASE_URL", " "),
        ("REDIS_URL", ""),
        ("FSAPI_MAX_DURATION", ""),
        ("RAILS_LOG_LEVEL", ""),
        ("RUST_LOG", ""),
        ("LOADBALANCER_SECRET", ""),
        ("SECRET_KEY_BASE", ""),
        ("SCALELITE_DATA_DIR", ""),
    ]);
    assert_eq!(format!("{all:?}"), format!("{:?}", parse_ok(&[])));
}

/// The algorithms an allow-list accepts inbound, weakest first.
fn inbound(allowed: &AllowedAlgorithms) -> Vec<Algorithm> {
    Algorithm::ALL
        .into_iter()
        .filter(|algorithm| allowed.contains(*algorithm))
        .collect()
}

#[test]
fn empty_checksum_algorithm_is_not_unset() {
    use Algorithm::{Sha1, Sha256, Sha512};
    let unset = parse_ok(&[]).secrets;
    assert_eq!(unset.loadbalancer_checksum_algorithm, None);
    assert_eq!(
        Ok(unset.checksum_algorithms()),
        AllowedAlgorithms::parse(None)
    );
    assert_eq!(
        inbound(&unset.checksum_algorithms()),
        [Sha1, Sha256, Sha512]
    );
    assert_eq!(unset.checksum_algorithms().outbound(), Sha256);

    for value in ["", "  "] {
        let empty = parse_ok(&[("LOADBALANCER_CHECKSUM_ALGORITHM", value)]).secrets;
        assert!(
            empty.loadbalancer_checksum_algorithm.is_some(),
            "{value:?} is set"
        );
        assert_eq!(
            inbound(&empty.checksum_algorithms()),
            [],
            "{value:?}: set but empty accepts nothing"
        );
        assert_eq!(empty.checksum_algorithms().outbound(), Sha256, "{value:?}");
    }
}

#[test]
fn empty_fsapi_password_disables_authentication() {
    let secrets = parse_ok(&[("LOADBALANCER_SECRET", "lb"), ("FSAPI_PASSWORD", "")]).secrets;
    assert_eq!(secrets.effective_fsapi_password(), None);
    let secrets = parse_ok(&[("LOADBALANCER_SECRET", "lb")]).secrets;
    assert_eq!(secrets.effective_fsapi_password(), Some(Secret::new("lb")));
    let secrets = parse_ok(&[("LOADBALANCER_SECRETS", "a:b")]).secrets;
    assert_eq!(secrets.effective_fsapi_password(), Some(Secret::new("a")));
    let secrets = parse_ok(&[("LOADBALANCER_SECRET", "lb"), ("FSAPI_PASSWORD", "fs")]).secrets;
    assert_eq!(secrets.effective_fsapi_password(), Some(Secret::new("fs")));
    assert_eq!(parse_ok(&[]).secrets.effective_fsapi_password(), None);
}

// --- bad values ----------------------------------------------------------------------------------------------------

#[test]
fn the_error_is_one_line_naming_the_variable() {
    assert_eq!(
        parse_err(&[("RESPONSE_TIMEOUT", "abc")]),
        r#"invalid value "abc" for RESPONSE_TIMEOUT: expected a number of seconds"#
    );
}

#[test]
fn bad_values_are_rejected_naming_the_variable() {
    let cases: &[(&str, &str, &str)] = &[
        ("CONNECT_TIMEOUT", "5s", "expected a number of seconds"),
        ("CONNECT_TIMEOUT", "-1", "expected a number of seconds"),
        (
            "POLL_INTERVAL",
            "NaN",
            "expected a number of seconds greater than 0",
        ),
        (
            "POLL_INTERVAL",
            "0",
            "expected a number of seconds greater than 0",
        ),
        (
            "RECORDING_IMPORT_POLL_INTERVAL",
            "0.0",
            "expected a number of seconds greater than 0",
        ),
        (
            "RECORDING_IMPORT_POLL_INTERVAL",
            "inf",
            "expected a number of seconds greater than 0",
        ),
        (
            "SHUTDOWN_GRACE_PERIOD",
            "soon",
            "expected a number of seconds",
        ),
        (
            "DEFAULT_MEETING_TTL",
            "1.5",
            "expected a whole number of seconds",
        ),
        (
            "POLLER_WAIT_TIMEOUT",
            "-3",
            "expected a whole number of seconds",
        ),
        (
            "MAX_MEETING_DURATION",
            "1h",
            "expected a whole number of minutes",
        ),
        (
            "LOAD_JOIN_BUFFER_TIME",
            "x",
            "expected a whole number of minutes",
        ),
        (
            "PROTECTED_RECORDINGS_TOKEN_TIMEOUT",
            "1e3",
            "expected a whole number of minutes",
        ),
        (
            "PROTECTED_RECORDINGS_TIMEOUT",
            "six",
            "expected a whole number of minutes",
        ),
        (
            "FSAPI_MAX_DURATION",
            "forever",
            "expected a whole number of minutes",
        ),
        (
            "POLLER_THREADS",
            "0",
            "expected a whole number of at least 1",
        ),
        ("POLLER_THREADS", "five", "expected a whole number"),
        ("SERVER_HEALTHY_THRESHOLD", "-1", "expected a whole number"),
        (
            "SERVER_UNHEALTHY_THRESHOLD",
            "2.5",
            "expected a whole number",
        ),
        ("LOAD_MIN_USER_COUNT", "many", "expected a whole number"),
        ("DB_CONNECTION_RETRY_COUNT", "x", "expected a whole number"),
        ("REDIS_POOL", "0", "expected a whole number of at least 1"),
        (
            "REDIS_TIMEOUT",
            "0",
            "expected a number of seconds greater than 0",
        ),
        (
            "VOICE_BRIDGE_LEN",
            "0",
            "expected a whole number from 1 to 18",
        ),
        (
            "VOICE_BRIDGE_MIN",
            "19",
            "expected a whole number from 1 to 18",
        ),
        (
            "VOICE_BRIDGE_MAX",
            "nine",
            "expected a whole number from 1 to 18",
        ),
        ("PORT", "0", "expected a port number from 1 to 65535"),
        ("PORT", "70000", "expected a port number from 1 to 65535"),
        (
            "MULTITENANCY_ENABLED",
            "enabled",
            "expected true/false, yes/no, 1/0 or on/off",
        ),
        ("RECORDING_DISABLED", "2", "expected true/false"),
        ("PREPARED_STATEMENT", "nope", "expected true/false"),
        ("S3_RECORDING", "s3", "expected true/false"),
        ("USE_EXTERNAL_VOICE_BRIDGE", "y", "expected true/false"),
        ("GET_MEETINGS_API_DISABLED", "t", "expected true/false"),
        ("SERVER_ID_IS_HOSTNAME", "maybe", "expected true/false"),
        ("GET_RECORDINGS_API_FILTERED", "x", "expected true/false"),
        ("RECORDING_IMPORT_UNPUBLISHED", "x", "expected true/false"),
        ("PROTECTED_RECORDINGS_ENABLED", "x", "expected true/false"),
        ("DEFAULT_CREATE_PARAMS", "record=true,logo", r#"got "logo""#),
        (
            "OVERRIDE_CREATE_PARAMS",
            "record",
            "expected key=value entries",
        ),
        ("DEFAULT_JOIN_PARAMS", "a=1,,b", r#"got "b""#),
        (
            "OVERRIDE_JOIN_PARAMS",
            "guest",
            "expected key=value entries",
        ),
        ("BIND", "unix:///tmp/puma.sock", "expected tcp://HOST:PORT"),
        ("BIND", "ssl://0.0.0.0:443", "expected tcp://HOST:PORT"),
        ("BIND", "tcp://0.0.0.0", "expected tcp://HOST:PORT"),
        ("BIND", "example.com:3000", "expected tcp://HOST:PORT"),
        ("BIND", "0.0.0.0:port", "expected tcp://HOST:PORT"),
        (
            "METRICS_BIND",
            "example.com:9100",
            "expected tcp://HOST:PORT",
        ),
        (
            "LOADBALANCER_CHECKSUM_ALGORITHM",
            "SHA1:MD5",
            r#"got "MD5""#,
        ),
        (
            "LOADBALANCER_CHECKSUM_ALGORITHM",
            "sha256",
            r#"got "sha256""#,
        ),
        (
            "LOADBALANCER_CHECKSUM_ALGORITHM",
            "SHA1,SHA256",
            "':'-separated",
        ),
        (
            "RAILS_LOG_LEVEL",
            "verbose",
            "expected debug, info, warn, error or fatal",
        ),
        ("LOG_FORMAT", "xml", "expected plain or json"),
        (
            "RUST_LOG",
            "scalelite=loud",
            "expected tracing filter directives",
        ),
    ];
    for (name, value, expected) in cases {
        let message = parse_err(&[(name, value)]);
        let prefix = format!("invalid value {value:?} for {name}: ");
        assert!(
            message.starts_with(&prefix),
            "{name}={value:?}: {message:?} should start with {prefix:?}"
        );
        assert!(
            message.contains(expected),
            "{name}={value:?}: {message:?} should say {expected:?}"
        );
        assert!(
            !message.contains('\n'),
            "{name}: more than one line: {message:?}"
        );
    }
}

#[test]
fn bad_booleans_name_the_variable_in_the_binary_path_too() {
    // The binaries let clap read the process environment and print clap's error; the message is the same line.
    let err = All::try_parse_from(["scalelite-api", "--response-timeout=abc"]).unwrap_err();
    let rendered = err.render().to_string();
    assert_eq!(
        rendered.trim_end(),
        r#"error: invalid value "abc" for RESPONSE_TIMEOUT: expected a number of seconds"#
    );
}

#[test]
fn booleans_accept_the_documented_spellings() {
    for value in [
        "true", "TRUE", "True", "yes", "YES", "1", "on", "On", " true ",
    ] {
        assert!(
            parse_ok(&[("RECORDING_DISABLED", value)])
                .recording
                .recording_disabled,
            "{value:?}"
        );
    }
    for value in ["false", "FALSE", "no", "No", "0", "off", "OFF", ""] {
        assert!(
            !parse_ok(&[("RECORDING_DISABLED", value)])
                .recording
                .recording_disabled,
            "{value:?}"
        );
    }
}

#[test]
fn secret_values_are_never_echoed() {
    let all = parse_ok(&[
        ("LOADBALANCER_SECRET", "top-secret-1"),
        ("LOADBALANCER_SECRETS", "top-secret-2:top-secret-3"),
        ("FSAPI_PASSWORD", "top-secret-4"),
        ("CF_PRIVATE_KEY_B64", "top-secret-5"),
        ("SECRET_KEY_BASE", "top-secret-6"),
        ("DATABASE_URL", "postgres://user:top-secret-7@db/scalelite"),
        ("REDIS_URL", "redis://:top-secret-8@cache:6379/0"),
        ("AWS_SECRET_ACCESS_KEY", "top-secret-9"),
        ("AWS_SESSION_TOKEN", "top-secret-10"),
    ]);
    let debug = format!(
        "{all:?} {:?} {:?}",
        all.secrets.lb_secrets(),
        all.storage.backend()
    );
    assert!(!debug.contains("top-secret"), "a secret leaked: {debug}");
    assert!(
        debug.contains("postgres://user:***@db/scalelite"),
        "{debug}"
    );
    assert!(debug.contains("redis://:***@cache:6379/0"), "{debug}");
}

#[test]
fn a_bad_database_url_scheme_does_not_echo_the_url() {
    let storage = parse_ok(&[("DATABASE_URL", "mysql://root:hunter2@db/x")]).storage;
    let message = storage.backend().unwrap_err().to_string();
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(message.contains("\"mysql\""), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn redact_url_hides_passwords_only() {
    assert_eq!(
        redact_url("postgres://u:p@h:5432/d"),
        "postgres://u:***@h:5432/d"
    );
    assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
    assert_eq!(
        redact_url("redis://localhost:6379"),
        "redis://localhost:6379"
    );
    assert_eq!(redact_url("not a url with p4ss"), "<unparseable URL>");
}

// --- values --------------------------------------------------------------------------------------------------------

#[test]
fn lb_secrets_come_in_order_without_empty_entries() {
    let secrets = parse_ok(&[
        ("LOADBALANCER_SECRET", "main"),
        ("LOADBALANCER_SECRETS", "b::c:"),
    ])
    .secrets;
    assert_eq!(exposed(&secrets.lb_secrets()), ["main", "b", "c"]);

    let secrets = parse_ok(&[("LOADBALANCER_SECRETS", "x:y")]).secrets;
    assert_eq!(exposed(&secrets.lb_secrets()), ["x", "y"]);

    let secrets = parse_ok(&[("LOADBALANCER_SECRET", "only")]).secrets;
    assert_eq!(exposed(&secrets.lb_secrets()), ["only"]);

    assert!(parse_ok(&[]).secrets.lb_secrets().is_empty());
}

#[test]
fn bad_checksum_algorithm_is_one_line_naming_the_variable_once() {
    assert_eq!(
        parse_err(&[("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA1:sha256")]),
        r#"invalid value "SHA1:sha256" for LOADBALANCER_CHECKSUM_ALGORITHM: expected a ':'-separated list of SHA1, SHA256, SHA384 and SHA512 (upper-case), got "sha256""#
    );
}

#[test]
fn checksum_algorithms_pick_the_strongest_for_outbound_calls() {
    let check = |value: &str, allowed: &[Algorithm], outbound: Algorithm| {
        let secrets = parse_ok(&[("LOADBALANCER_CHECKSUM_ALGORITHM", value)]).secrets;
        let algorithms = secrets.checksum_algorithms();
        assert_eq!(inbound(&algorithms), allowed, "{value}");
        assert_eq!(algorithms.outbound(), outbound, "{value}");
        // One parser: the configuration holds exactly what the checksum module makes of the text.
        assert_eq!(
            Ok(algorithms),
            AllowedAlgorithms::parse(Some(value)),
            "{value}"
        );
    };
    use Algorithm::{Sha1, Sha256, Sha512};
    check("SHA1", &[Sha1], Sha1);
    check("SHA1:SHA256", &[Sha1, Sha256], Sha256);
    check("SHA512:SHA1", &[Sha1, Sha512], Sha512);
    check("SHA1:SHA256:SHA512", &[Sha1, Sha256, Sha512], Sha512);
    check("SHA256:SHA256:", &[Sha256], Sha256);
    check(" SHA256 : SHA1 ", &[Sha1, Sha256], Sha256);
    // SHA384 may be listed (bbb-web's list) but is never accepted inbound nor chosen outbound.
    check("SHA1:SHA384", &[Sha1], Sha1);
    check("SHA384:SHA256", &[Sha256], Sha256);
    check("SHA384", &[], Sha1);
    // Not blank, so not "set but empty": lists nothing and signs with the fallback of a non-blank list.
    check(":", &[], Sha1);
}

#[test]
fn param_maps_split_on_the_first_equals_sign() {
    let meeting = parse_ok(&[
        (
            "DEFAULT_CREATE_PARAMS",
            "logo=https://x/y.png?a=b,welcome=Hi there,",
        ),
        ("OVERRIDE_CREATE_PARAMS", "a=1,b=,a=3"),
    ])
    .meeting;
    assert_eq!(
        meeting.default_create_params,
        pairs(&[("logo", "https://x/y.png?a=b"), ("welcome", "Hi there")])
    );
    // A repeated key keeps its first place and takes the last value (a Ruby hash); an empty value is kept.
    assert_eq!(
        meeting.override_create_params,
        pairs(&[("a", "3"), ("b", "")])
    );
}

#[test]
fn bind_accepts_puma_and_plain_addresses() {
    let cases = [
        ("tcp://0.0.0.0:3000", "0.0.0.0:3000"),
        ("tcp://127.0.0.1:8080/", "127.0.0.1:8080"),
        ("127.0.0.1:9000", "127.0.0.1:9000"),
        ("tcp://[::]:3000", "[::]:3000"),
        ("[::1]:3001", "[::1]:3001"),
        ("tcp://localhost:4000", "127.0.0.1:4000"),
        ("localhost:4001", "127.0.0.1:4001"),
    ];
    let http = parse_ok(&[("PORT", "8080")]).http;
    assert_eq!(
        http.listen_addr(),
        "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
    );
    for (bind, expected) in cases {
        let http = parse_ok(&[("BIND", bind), ("PORT", "1234")]).http;
        assert_eq!(
            http.listen_addr(),
            expected.parse::<SocketAddr>().unwrap(),
            "{bind}"
        );
    }
}

#[test]
fn meeting_duration_helpers() {
    let meeting = parse_ok(&[]).meeting;
    assert_eq!(meeting.max_duration_minutes(), None);
    assert_eq!(meeting.effective_fsapi_max_duration(), Duration::ZERO);

    let meeting = parse_ok(&[("MAX_MEETING_DURATION", "120")]).meeting;
    assert_eq!(meeting.max_duration_minutes(), Some(120));
    assert_eq!(meeting.effective_fsapi_max_duration(), mins(120));

    let meeting = parse_ok(&[("MAX_MEETING_DURATION", "120"), ("FSAPI_MAX_DURATION", "0")]).meeting;
    assert_eq!(meeting.effective_fsapi_max_duration(), Duration::ZERO);
}

#[test]
fn rails_log_level_spellings() {
    for (value, level) in [
        ("debug", LogLevel::Debug),
        ("INFO", LogLevel::Info),
        ("warn", LogLevel::Warn),
        ("error", LogLevel::Error),
        ("fatal", LogLevel::Error),
        ("unknown", LogLevel::Error),
        ("trace", LogLevel::Trace),
    ] {
        assert_eq!(
            parse_ok(&[("RAILS_LOG_LEVEL", value)]).log.rails_log_level,
            Some(level),
            "{value}"
        );
    }
}

// --- back-end choice -------------------------------------------------------------------------------------------------

fn backend(pairs: &[(&str, &str)]) -> Result<BackendChoice, ConfigError> {
    parse_ok(pairs).storage.backend()
}

fn embedded(path: &str) -> BackendChoice {
    BackendChoice::Embedded {
        path: PathBuf::from(path),
    }
}

#[test]
fn no_urls_means_the_embedded_store() {
    assert_eq!(backend(&[]).unwrap(), embedded("./scalelite.sqlite3"));
    assert_eq!(
        backend(&[("SCALELITE_DATA_DIR", "/var/lib/scalelite")]).unwrap(),
        embedded("/var/lib/scalelite/scalelite.sqlite3")
    );
}

#[test]
fn a_sqlite_database_url_means_the_embedded_store() {
    assert_eq!(
        backend(&[("DATABASE_URL", "sqlite:data/sl.db")]).unwrap(),
        embedded("data/sl.db")
    );
    assert_eq!(
        backend(&[("DATABASE_URL", "sqlite://data/sl.db")]).unwrap(),
        embedded("data/sl.db")
    );
    assert_eq!(
        backend(&[("DATABASE_URL", "sqlite:///var/lib/sl.db?mode=rwc")]).unwrap(),
        embedded("/var/lib/sl.db")
    );
    let err = backend(&[("DATABASE_URL", "sqlite:")]).unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"), "{err}");
    let err = backend(&[("DATABASE_URL", "sqlite:x.db"), ("REDIS_URL", "redis://r")]).unwrap_err();
    assert!(matches!(err, ConfigError::Combination(_)));
    assert!(err.to_string().contains("REDIS_URL"), "{err}");
}

#[test]
fn a_postgres_url_means_production_with_redis_defaulting_to_localhost() {
    let choice = backend(&[("DATABASE_URL", "postgres://u:p@db/scalelite")]).unwrap();
    assert_eq!(
        choice,
        BackendChoice::Production {
            database_url: "postgres://u:p@db/scalelite".to_owned(),
            redis_url: "redis://localhost:6379".to_owned(),
            namespace: "scalelite".to_owned(),
            redis_pool: 5,
            redis_timeout: Duration::from_secs(2),
            prepared_statements: true,
        }
    );

    let choice = backend(&[
        ("DATABASE_URL", "postgresql://db/scalelite"),
        ("REDIS_URL", "redis://cache:6380/2"),
        ("REDIS_NAMESPACE", "sl2"),
        ("REDIS_POOL", "9"),
        ("REDIS_TIMEOUT", "0.25"),
        ("PREPARED_STATEMENT", "false"),
    ])
    .unwrap();
    assert_eq!(
        choice,
        BackendChoice::Production {
            database_url: "postgresql://db/scalelite".to_owned(),
            redis_url: "redis://cache:6380/2".to_owned(),
            namespace: "sl2".to_owned(),
            redis_pool: 9,
            redis_timeout: Duration::from_millis(250),
            prepared_statements: false,
        }
    );
}

#[test]
fn redis_without_a_database_is_refused_naming_database_url() {
    let err = backend(&[("REDIS_URL", "redis://cache:6379")]).unwrap_err();
    assert!(matches!(err, ConfigError::Combination(_)));
    assert!(
        err.to_string().starts_with("DATABASE_URL must be set"),
        "{err}"
    );
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let err = backend(&[("DATABASE_URL", "db.example.com/scalelite")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid value for DATABASE_URL: expected a postgres:// or sqlite: URL, got no scheme"
    );
}

// --- the documented example env file -----------------------------------------------------------------------------

const ENV_EXAMPLE: &str = include_str!("../../../../deploy/scalelite.env.example");

/// `(name, value)` of every `VAR=value` or `#VAR=value` line.
fn example_lines() -> Vec<(&'static str, &'static str)> {
    ENV_EXAMPLE
        .lines()
        .filter_map(|line| line.strip_prefix('#').unwrap_or(line).split_once('='))
        .filter(|(name, _)| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn the_example_env_file_documents_every_variable_once_with_its_default() {
    let lines = example_lines();
    for (name, _, _) in ENV_VARS {
        let count = lines
            .iter()
            .filter(|(line_name, _)| line_name == name)
            .count();
        assert_eq!(
            count, 1,
            "{name} should appear once in deploy/scalelite.env.example"
        );
    }
    for (name, _) in &lines {
        assert!(
            ENV_VARS.iter().any(|(var, _, _)| var == name),
            "{name} in the example is not a variable we read"
        );
    }
    for (name, arg) in all_env_args() {
        let default = arg
            .get_default_values()
            .first()
            .and_then(|value| value.to_str())
            .unwrap_or_default();
        if default.is_empty() {
            continue;
        }
        let shown = lines
            .iter()
            .find(|(line_name, _)| *line_name == name)
            .map(|(_, value)| *value);
        assert_eq!(
            shown,
            Some(default),
            "the example should show the default of {name}"
        );
    }
    for (name, _) in IGNORED_VARIABLES {
        assert!(
            ENV_EXAMPLE.contains(name),
            "{name} should be listed as ignored in the example"
        );
    }
}

#[test]
fn the_example_env_file_parses_when_uncommented() {
    let env: HashMap<String, String> = example_lines()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    let all: All = from_env_map(&env).unwrap();
    assert_eq!(
        all.secrets.url_host.as_deref(),
        Some("scalelite.example.com")
    );
    assert_eq!(
        all.storage.backend().unwrap(),
        BackendChoice::Embedded {
            path: PathBuf::from("/var/lib/scalelite/scalelite.sqlite3")
        }
    );
}
