//! What the API needs from the configuration, resolved once at start-up into plain values.

use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;
use scalelite_core::bbb::checksum::AllowedAlgorithms;
use scalelite_core::config;
use scalelite_core::domain::Secret;
use scalelite_core::s3::S3Bucket;

use crate::cloudfront::CloudFront;

/// Resolved API settings. Tests build them directly (`Settings::default()` plus changes).
#[derive(Clone, Debug)]
pub struct Settings {
    /// `LOADBALANCER_SECRET` then `LOADBALANCER_SECRETS`.
    pub lb_secrets: Vec<Secret>,
    /// `LOADBALANCER_CHECKSUM_ALGORITHM`.
    pub checksum_algorithms: AllowedAlgorithms,
    /// `ADMIN_API_SECRET`: when set, the only secret the admin API accepts (else `lb_secrets`).
    pub admin_secret: Option<Secret>,
    /// `ADMIN_API_LEGACY_CHECKSUM`: also accept the admin checksum that does not cover the body.
    pub admin_legacy_checksum: bool,
    /// `ADMIN_API_MAX_AGE`: admin calls need a signed `timestamp` this close to now; zero = off.
    pub admin_max_age: Duration,
    /// `MULTITENANCY_ENABLED`.
    pub multitenancy: bool,
    /// `URL_HOST`: host allow-list and analytics callback rewrite.
    pub url_host: Option<String>,
    /// `BUILD_NUMBER`.
    pub build_number: Option<String>,
    /// `GET_MEETINGS_API_DISABLED`.
    pub get_meetings_disabled: bool,
    /// `RECORDING_DISABLED`.
    pub recording_disabled: bool,
    /// `GET_RECORDINGS_API_FILTERED`.
    pub get_recordings_filtered: bool,
    /// `PROTECTED_RECORDINGS_ENABLED`.
    pub protected_recordings: bool,
    /// `PROTECTED_RECORDINGS_TOKEN_TIMEOUT`.
    pub protected_token_ttl: Duration,
    /// `PROTECTED_RECORDINGS_TIMEOUT`: lifetime of the playback access cookie.
    pub protected_cookie_ttl: Duration,
    /// `SECRET_KEY_BASE`: signs the playback access cookies. Random per process when unset, so cookies then do
    /// not survive a restart and are not shared between API instances.
    pub secret_key_base: Secret,
    /// `RECORDING_PUBLISH_DIR`: `<dir>/<format>/<record_id>` of published recordings.
    pub recording_publish_dir: PathBuf,
    /// `RECORDING_UNPUBLISH_DIR`: the same for unpublished recordings.
    pub recording_unpublish_dir: PathBuf,
    /// `RECORDING_PLAYBACK_FORMATS`: formats served by `/<format>/<record_id>/...`.
    pub playback_formats: Vec<String>,
    /// `MAX_MEETING_DURATION` in minutes (0 = off).
    pub max_meeting_duration: u64,
    /// `CREATE_EXCLUDE_PARAMS` / `JOIN_EXCLUDE_PARAMS`.
    pub create_exclude_params: Vec<String>,
    pub join_exclude_params: Vec<String>,
    /// `DEFAULT_CREATE_PARAMS`, `OVERRIDE_CREATE_PARAMS`, `DEFAULT_JOIN_PARAMS`, `OVERRIDE_JOIN_PARAMS`.
    pub default_create_params: Vec<(String, String)>,
    pub override_create_params: Vec<(String, String)>,
    pub default_join_params: Vec<(String, String)>,
    pub override_join_params: Vec<(String, String)>,
    /// `VOICE_BRIDGE_LEN`.
    pub voice_bridge_len: usize,
    /// `USE_EXTERNAL_VOICE_BRIDGE`.
    pub use_external_voice_bridge: bool,
    /// `MEETING_FAILOVER`: re-create a meeting whose server is lost on another server.
    pub meeting_failover: bool,
    /// `DEFAULT_MEETING_TTL`.
    pub meeting_ttl: Duration,
    /// `CONNECT_TIMEOUT` and `RESPONSE_TIMEOUT`.
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// `MAX_REQUEST_BODY_SIZE`: largest body of create, insertDocument and analytics_callback (ours; the original
    /// relies on the proxy in front of it).
    pub max_body_bytes: usize,
    /// `MAX_SMALL_BODY_SIZE`: largest body of every other route.
    pub max_small_body_bytes: u64,
    /// `HTTP_HEADER_TIMEOUT`: request line and headers must arrive within it.
    pub header_timeout: Duration,
    /// `HTTP_BODY_TIMEOUT`: a request's whole body must arrive within it.
    pub body_timeout: Duration,
    /// `HTTP_KEEPALIVE_TIMEOUT`: an idle kept-alive connection is closed after it.
    pub keepalive_timeout: Duration,
    /// `MAX_CONCURRENT_REQUESTS`: requests handled at once; more are answered 503.
    pub max_concurrent_requests: usize,
    /// `METRICS_PUBLIC`: serve `/metrics` on the API's port too.
    pub metrics_public: bool,
    /// `BBB_MAX_RESPONSE_SIZE`: largest answer read from a BBB server.
    pub bbb_max_response_bytes: u64,
    /// How many servers a failing create tries before giving up (ours; the original tries one).
    pub create_attempts: usize,
    /// `FSAPI_PASSWORD` in effect (unset: the first LB secret); `None`: no password, so `/fsapi` refuses every
    /// request unless `fsapi_auth_disabled`.
    pub fsapi_password: Option<Secret>,
    /// `FSAPI_AUTH_DISABLED`: without a password, serve `/fsapi` to anyone.
    pub fsapi_auth_disabled: bool,
    /// `VOICE_BRIDGE_MIN` / `VOICE_BRIDGE_MAX`: digits the dial-in PIN prompt accepts.
    pub voice_bridge_min: u32,
    pub voice_bridge_max: u32,
    /// `FSAPI_MAX_DURATION` (else `MAX_MEETING_DURATION`): dial-in calls are hung up after it (zero: never).
    pub fsapi_max_duration: Duration,
    /// `SERVER_ID_IS_HOSTNAME`: servers added through the admin API get their host name as id.
    pub server_id_is_hostname: bool,
    /// `S3_RECORDING` with `S3_BUCKET_NAME`: deleteRecordings deletes the recording's objects there instead of its
    /// directories. `from_config` leaves it `None`; `main` sets it from `S3Bucket::from_config` (which can fail).
    pub s3: Option<S3Bucket>,
    /// `CLOUDFRONT_URL` with `CF_PRIVATE_KEY_B64` and `CF_KEY_PAIR_ID`: HTML resource requests are redirected to
    /// CloudFront with signed cookies. `from_config` leaves it `None`; `main` sets it from `CloudFront::from_config`
    /// (which can fail).
    pub cloudfront: Option<CloudFront>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            lb_secrets: Vec::new(),
            checksum_algorithms: AllowedAlgorithms::default(),
            admin_secret: None,
            admin_legacy_checksum: false,
            admin_max_age: Duration::ZERO,
            multitenancy: false,
            url_host: None,
            build_number: None,
            get_meetings_disabled: false,
            recording_disabled: false,
            get_recordings_filtered: false,
            protected_recordings: false,
            protected_token_ttl: Duration::from_secs(60 * 60),
            protected_cookie_ttl: Duration::from_secs(360 * 60),
            secret_key_base: random_key(),
            recording_publish_dir: PathBuf::from("/var/bigbluebutton/published"),
            recording_unpublish_dir: PathBuf::from("/var/bigbluebutton/unpublished"),
            playback_formats: [
                "presentation",
                "video",
                "screenshare",
                "podcast",
                "notes",
                "capture",
            ]
            .map(String::from)
            .to_vec(),
            max_meeting_duration: 0,
            create_exclude_params: Vec::new(),
            join_exclude_params: Vec::new(),
            default_create_params: Vec::new(),
            override_create_params: Vec::new(),
            default_join_params: Vec::new(),
            override_join_params: Vec::new(),
            voice_bridge_len: 9,
            use_external_voice_bridge: false,
            meeting_failover: true,
            meeting_ttl: Duration::from_secs(86_400),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(10),
            max_body_bytes: 32 * 1024 * 1024,
            max_small_body_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            keepalive_timeout: Duration::from_secs(75),
            max_concurrent_requests: 1024,
            metrics_public: false,
            bbb_max_response_bytes: 16 * 1024 * 1024,
            create_attempts: 3,
            fsapi_password: None,
            fsapi_auth_disabled: false,
            voice_bridge_min: 5,
            voice_bridge_max: 9,
            fsapi_max_duration: Duration::ZERO,
            server_id_is_hostname: false,
            s3: None,
            cloudfront: None,
        }
    }
}

impl Settings {
    /// Resolve the settings from the parsed configuration.
    pub fn from_config(
        secrets: &config::SecretsArgs,
        bbb: &config::BbbClientArgs,
        meetings: &config::MeetingArgs,
        recordings: &config::RecordingArgs,
        misc: &config::MiscArgs,
        http: &config::HttpArgs,
    ) -> Self {
        Self {
            lb_secrets: secrets.lb_secrets(),
            checksum_algorithms: secrets.checksum_algorithms(),
            admin_secret: secrets.admin_api_secret.clone(),
            admin_legacy_checksum: secrets.admin_api_legacy_checksum,
            admin_max_age: secrets.admin_api_max_age,
            multitenancy: secrets.multitenancy_enabled,
            url_host: secrets.url_host.clone(),
            build_number: misc.build_number.clone(),
            get_meetings_disabled: meetings.get_meetings_api_disabled,
            recording_disabled: recordings.recording_disabled,
            get_recordings_filtered: recordings.get_recordings_api_filtered,
            protected_recordings: recordings.protected_recordings_enabled,
            protected_token_ttl: recordings.protected_recordings_token_timeout,
            protected_cookie_ttl: recordings.protected_recordings_timeout,
            secret_key_base: misc.secret_key_base.clone().unwrap_or_else(|| {
                tracing::warn!(
                    "SECRET_KEY_BASE is not set: protected-recording cookies use a random key of this process"
                );
                random_key()
            }),
            recording_publish_dir: recordings.recording_publish_dir.clone(),
            recording_unpublish_dir: recordings.recording_unpublish_dir.clone(),
            playback_formats: recordings.recording_playback_formats.clone(),
            max_meeting_duration: meetings.max_duration_minutes().unwrap_or(0),
            create_exclude_params: meetings.create_exclude_params.clone(),
            join_exclude_params: meetings.join_exclude_params.clone(),
            default_create_params: meetings.default_create_params.clone(),
            override_create_params: meetings.override_create_params.clone(),
            default_join_params: meetings.default_join_params.clone(),
            override_join_params: meetings.override_join_params.clone(),
            voice_bridge_len: meetings.voice_bridge_len as usize,
            use_external_voice_bridge: meetings.use_external_voice_bridge,
            meeting_failover: meetings.meeting_failover,
            meeting_ttl: meetings.default_meeting_ttl,
            connect_timeout: bbb.connect_timeout,
            response_timeout: bbb.response_timeout,
            fsapi_password: secrets.effective_fsapi_password(),
            fsapi_auth_disabled: secrets.fsapi_auth_disabled,
            max_body_bytes: usize::try_from(http.max_request_body_size).unwrap_or(usize::MAX),
            max_small_body_bytes: http.max_small_body_size,
            header_timeout: http.http_header_timeout,
            body_timeout: http.http_body_timeout,
            keepalive_timeout: http.http_keepalive_timeout,
            max_concurrent_requests: http.max_concurrent_requests as usize,
            metrics_public: http.metrics_public,
            bbb_max_response_bytes: bbb.bbb_max_response_size,
            voice_bridge_min: meetings.voice_bridge_min,
            voice_bridge_max: meetings.voice_bridge_max,
            fsapi_max_duration: meetings.effective_fsapi_max_duration(),
            server_id_is_hostname: meetings.server_id_is_hostname,
            ..Settings::default()
        }
    }
}

/// 64 random bytes as hex: the cookie key when `SECRET_KEY_BASE` is unset.
fn random_key() -> Secret {
    let mut bytes = [0u8; 64];
    rand::rng().fill(&mut bytes[..]);
    Secret::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

#[cfg(test)]
mod tests;
