//! `Settings::from_config` against the parsed environment: every field takes the variable it names. Each variable
//! gets a value no other one has, so swapping two fields (two timeouts, two parameter lists) fails.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::config::{
    BbbClientArgs, HttpArgs, MeetingArgs, MiscArgs, RecordingArgs, SecretsArgs, from_env_map,
};

use super::Settings;

const ENV: &[(&str, &str)] = &[
    ("LOADBALANCER_SECRET", "first-secret"),
    ("LOADBALANCER_SECRETS", "second:third"),
    ("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA1:SHA512"),
    ("MULTITENANCY_ENABLED", "true"),
    ("URL_HOST", "lb.example.com"),
    ("BUILD_NUMBER", "build-77"),
    ("GET_MEETINGS_API_DISABLED", "true"),
    ("RECORDING_DISABLED", "true"),
    ("GET_RECORDINGS_API_FILTERED", "true"),
    ("PROTECTED_RECORDINGS_ENABLED", "true"),
    ("PROTECTED_RECORDINGS_TOKEN_TIMEOUT", "3"),
    ("PROTECTED_RECORDINGS_TIMEOUT", "4"),
    ("SECRET_KEY_BASE", "cookie-key"),
    ("RECORDING_PUBLISH_DIR", "/srv/pub"),
    ("RECORDING_UNPUBLISH_DIR", "/srv/unpub"),
    ("RECORDING_PLAYBACK_FORMATS", "video:notes"),
    ("MAX_MEETING_DURATION", "45"),
    ("CREATE_EXCLUDE_PARAMS", "ce1,ce2"),
    ("JOIN_EXCLUDE_PARAMS", "je1"),
    ("DEFAULT_CREATE_PARAMS", "dc=1"),
    ("OVERRIDE_CREATE_PARAMS", "oc=2"),
    ("DEFAULT_JOIN_PARAMS", "dj=3"),
    ("OVERRIDE_JOIN_PARAMS", "oj=4"),
    ("VOICE_BRIDGE_LEN", "6"),
    ("USE_EXTERNAL_VOICE_BRIDGE", "true"),
    ("DEFAULT_MEETING_TTL", "1234"),
    ("CONNECT_TIMEOUT", "1.5"),
    ("RESPONSE_TIMEOUT", "2.5"),
    ("FSAPI_PASSWORD", "dial-in"),
    ("VOICE_BRIDGE_MIN", "4"),
    ("VOICE_BRIDGE_MAX", "8"),
    ("FSAPI_MAX_DURATION", "30"),
    ("SERVER_ID_IS_HOSTNAME", "true"),
    ("ADMIN_API_SECRET", "admin-secret"),
    ("ADMIN_API_LEGACY_CHECKSUM", "true"),
    ("ADMIN_API_MAX_AGE", "301"),
    ("FSAPI_AUTH_DISABLED", "true"),
    ("HTTP_HEADER_TIMEOUT", "11.5"),
    ("HTTP_BODY_TIMEOUT", "12.5"),
    ("HTTP_KEEPALIVE_TIMEOUT", "13.5"),
    ("MAX_REQUEST_BODY_SIZE", "1000001"),
    ("MAX_SMALL_BODY_SIZE", "1002"),
    ("MAX_CONCURRENT_REQUESTS", "17"),
    ("METRICS_PUBLIC", "true"),
    ("BBB_MAX_RESPONSE_SIZE", "1000003"),
];

fn settings(env: &[(&str, &str)]) -> Settings {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_config(
        &from_env_map::<SecretsArgs>(&env).unwrap(),
        &from_env_map::<BbbClientArgs>(&env).unwrap(),
        &from_env_map::<MeetingArgs>(&env).unwrap(),
        &from_env_map::<RecordingArgs>(&env).unwrap(),
        &from_env_map::<MiscArgs>(&env).unwrap(),
        &from_env_map::<HttpArgs>(&env).unwrap(),
    )
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn every_field_takes_its_variable() {
    let s = settings(ENV);
    let secrets: Vec<&str> = s.lb_secrets.iter().map(|x| x.expose()).collect();
    assert_eq!(secrets, ["first-secret", "second", "third"]);
    assert!(s.checksum_algorithms.contains(Algorithm::Sha1));
    assert!(!s.checksum_algorithms.contains(Algorithm::Sha256));
    assert!(s.checksum_algorithms.contains(Algorithm::Sha512));
    assert!(s.multitenancy);
    assert_eq!(s.url_host.as_deref(), Some("lb.example.com"));
    assert_eq!(s.build_number.as_deref(), Some("build-77"));
    assert!(s.get_meetings_disabled);
    assert!(s.recording_disabled);
    assert!(s.get_recordings_filtered);
    assert!(s.protected_recordings);
    assert_eq!(s.protected_token_ttl, Duration::from_secs(3 * 60));
    assert_eq!(s.protected_cookie_ttl, Duration::from_secs(4 * 60));
    assert_eq!(s.secret_key_base.expose(), "cookie-key");
    assert_eq!(s.recording_publish_dir, PathBuf::from("/srv/pub"));
    assert_eq!(s.recording_unpublish_dir, PathBuf::from("/srv/unpub"));
    assert_eq!(s.playback_formats, ["video", "notes"]);
    assert_eq!(s.max_meeting_duration, 45);
    assert_eq!(s.create_exclude_params, ["ce1", "ce2"]);
    assert_eq!(s.join_exclude_params, ["je1"]);
    assert_eq!(s.default_create_params, pairs(&[("dc", "1")]));
    assert_eq!(s.override_create_params, pairs(&[("oc", "2")]));
    assert_eq!(s.default_join_params, pairs(&[("dj", "3")]));
    assert_eq!(s.override_join_params, pairs(&[("oj", "4")]));
    assert_eq!(s.voice_bridge_len, 6);
    assert!(s.use_external_voice_bridge);
    assert_eq!(s.meeting_ttl, Duration::from_secs(1234));
    assert_eq!(s.connect_timeout, Duration::from_millis(1500));
    assert_eq!(s.response_timeout, Duration::from_millis(2500));
    assert_eq!(
        s.fsapi_password.as_ref().map(|p| p.expose()),
        Some("dial-in")
    );
    assert_eq!((s.voice_bridge_min, s.voice_bridge_max), (4, 8));
    assert_eq!(s.fsapi_max_duration, Duration::from_secs(30 * 60));
    assert!(s.server_id_is_hostname);
    assert_eq!(
        s.admin_secret.as_ref().map(|x| x.expose()),
        Some("admin-secret")
    );
    assert!(s.admin_legacy_checksum);
    assert_eq!(s.admin_max_age, Duration::from_secs(301));
    assert!(s.fsapi_auth_disabled);
    assert_eq!(s.header_timeout, Duration::from_millis(11_500));
    assert_eq!(s.body_timeout, Duration::from_millis(12_500));
    assert_eq!(s.keepalive_timeout, Duration::from_millis(13_500));
    assert_eq!(s.max_body_bytes, 1_000_001);
    assert_eq!(s.max_small_body_bytes, 1002);
    assert_eq!(s.max_concurrent_requests, 17);
    assert!(s.metrics_public);
    assert_eq!(s.bbb_max_response_bytes, 1_000_003);
    // Not configurable: our own limits keep their defaults.
    let default = Settings::default();
    assert_eq!(s.create_attempts, default.create_attempts);
    assert!(s.s3.is_none(), "main sets S3 from S3Bucket::from_config");
}

/// Every variable unset gives what `Settings::default()` (which the end-to-end tests start from) says, except the
/// random cookie key.
#[test]
fn an_empty_environment_gives_the_defaults() {
    let (s, d) = (settings(&[]), Settings::default());
    assert!(s.lb_secrets.is_empty());
    assert_eq!(s.checksum_algorithms, d.checksum_algorithms);
    assert_eq!(
        (s.multitenancy, s.url_host.clone(), s.build_number.clone()),
        (false, None, None)
    );
    assert_eq!(
        (
            s.get_meetings_disabled,
            s.recording_disabled,
            s.get_recordings_filtered,
            s.protected_recordings,
            s.use_external_voice_bridge,
            s.server_id_is_hostname
        ),
        (false, false, false, false, false, false)
    );
    assert_eq!(s.protected_token_ttl, d.protected_token_ttl);
    assert_eq!(s.protected_cookie_ttl, d.protected_cookie_ttl);
    assert_eq!(s.recording_publish_dir, d.recording_publish_dir);
    assert_eq!(s.recording_unpublish_dir, d.recording_unpublish_dir);
    assert_eq!(s.playback_formats, d.playback_formats);
    assert_eq!(s.max_meeting_duration, d.max_meeting_duration);
    assert_eq!(s.voice_bridge_len, d.voice_bridge_len);
    assert_eq!(s.meeting_ttl, d.meeting_ttl);
    assert_eq!(s.connect_timeout, d.connect_timeout);
    assert_eq!(s.response_timeout, d.response_timeout);
    assert_eq!(
        (s.voice_bridge_min, s.voice_bridge_max),
        (d.voice_bridge_min, d.voice_bridge_max)
    );
    assert_eq!(s.fsapi_max_duration, d.fsapi_max_duration);
    assert!(s.fsapi_password.is_none(), "no LB secret, no password");
    assert!(
        s.default_create_params.is_empty()
            && s.override_create_params.is_empty()
            && s.default_join_params.is_empty()
            && s.override_join_params.is_empty()
            && s.create_exclude_params.is_empty()
            && s.join_exclude_params.is_empty()
    );
}

/// The derived values: FSAPI_PASSWORD falls back to the first LB secret (set but empty: no authentication), and
/// FSAPI_MAX_DURATION to MAX_MEETING_DURATION.
#[test]
fn derived_values_follow_their_fallbacks() {
    let s = settings(&[
        ("LOADBALANCER_SECRET", "lb"),
        ("MAX_MEETING_DURATION", "90"),
    ]);
    assert_eq!(s.fsapi_password.as_ref().map(|p| p.expose()), Some("lb"));
    assert_eq!(s.fsapi_max_duration, Duration::from_secs(90 * 60));
    let s = settings(&[("LOADBALANCER_SECRET", "lb"), ("FSAPI_PASSWORD", "")]);
    assert!(s.fsapi_password.is_none());
    let a = settings(&[]).secret_key_base;
    let b = settings(&[]).secret_key_base;
    assert_ne!(
        a.expose(),
        b.expose(),
        "unset SECRET_KEY_BASE: a random key"
    );
}
