//! The `Args` structs, one per concern. Field names are the variables' names in lower case, so the `--long` flags
//! of all structs never collide when a binary flattens several of them.
//!
//! Fields typed `std::option::Option<..>` or `std::vec::Vec<..>` (written with the full path) are single values
//! parsed by our own parsers; the full path stops clap's derive from treating them as "optional argument" or
//! "repeated argument". Those options carry a hidden empty default, so blank and unset both mean `None`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use super::parse;
use super::{BackendChoice, ConfigError, LogFormat, LogLevel, redact_url};
use crate::bbb::checksum::AllowedAlgorithms;
use crate::domain::Secret;

/// The default SQLite file of the embedded store.
const EMBEDDED_DATABASE_FILE: &str = "scalelite.sqlite3";
/// redis-rb's default when `REDIS_URL` is unset.
const DEFAULT_REDIS_URL: &str = "redis://localhost:6379";

/// API secrets, checksum algorithms and multitenancy.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct SecretsArgs {
    /// Main API secret: the first secret accepted on `/bigbluebutton/api` checksums.
    #[arg(long, env = "LOADBALANCER_SECRET", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub loadbalancer_secret: std::option::Option<Secret>,

    /// More accepted API secrets, separated by `:`, tried after LOADBALANCER_SECRET.
    #[arg(long, env = "LOADBALANCER_SECRETS", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub loadbalancer_secrets: std::option::Option<Secret>,

    /// Accepted inbound checksum algorithms, `:`-separated, upper-case: SHA1, SHA256, SHA512 (SHA384 may be listed
    /// but is never accepted).
    ///
    /// Unset: all three are accepted and outbound calls are signed with SHA256. Set: only those listed are accepted
    /// and outbound calls use the strongest listed. Set but empty: no inbound checksum is accepted at all.
    ///
    /// `None` when unset; read it through [`SecretsArgs::checksum_algorithms`].
    #[arg(long, env = "LOADBALANCER_CHECKSUM_ALGORITHM", value_parser = parse::checksum_algorithms())]
    pub loadbalancer_checksum_algorithm: Option<AllowedAlgorithms>,

    /// Resolve tenants from the request's subdomain and check their secrets instead of the LB secrets.
    #[arg(long, env = "MULTITENANCY_ENABLED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub multitenancy_enabled: bool,

    /// Public host name of this Scalelite: host allow-list (`.URL_HOST` with multitenancy), analytics callback
    /// URLs, FreeSWITCH realm. Leave unset to accept any Host header (e.g. behind a load balancer).
    #[arg(long, env = "URL_HOST", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub url_host: std::option::Option<String>,

    /// Basic-auth password of the FreeSWITCH dial-plan API (`/fsapi`). Unset: the first LB secret. Set but empty:
    /// no authentication.
    #[arg(long, env = "FSAPI_PASSWORD", hide_env_values = true, value_parser = parse::secret())]
    pub fsapi_password: Option<Secret>,

    /// Serve `/fsapi` without authentication when FSAPI_PASSWORD is set but empty (or no password can be derived).
    /// Without it such a configuration refuses every `/fsapi` request.
    #[arg(long, env = "FSAPI_AUTH_DISABLED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub fsapi_auth_disabled: bool,

    /// Secret of the admin REST API (`/scalelite/api/*`). Set: the only secret accepted there, so front-ends holding
    /// LOADBALANCER_SECRET cannot manage the pool. Unset: the LB secrets (ours).
    #[arg(long, env = "ADMIN_API_SECRET", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub admin_api_secret: std::option::Option<Secret>,

    /// Also accept the original's admin checksum, which covers the action and the query but not the JSON body,
    /// with a warning per request that uses it (ours).
    #[arg(long, env = "ADMIN_API_LEGACY_CHECKSUM", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub admin_api_legacy_checksum: bool,

    /// Admin API replay window in seconds: a signed `timestamp` query parameter (Unix seconds) is required and
    /// must be at most this far from now. 0: no timestamp needed (ours).
    #[arg(long, env = "ADMIN_API_MAX_AGE", default_value = "0", value_parser = parse::seconds())]
    pub admin_api_max_age: Duration,
}

impl SecretsArgs {
    /// The secrets accepted on API checksums without multitenancy: `LOADBALANCER_SECRET` first, then each
    /// `:`-separated entry of `LOADBALANCER_SECRETS`, empty entries dropped.
    pub fn lb_secrets(&self) -> Vec<Secret> {
        let first = self
            .loadbalancer_secret
            .iter()
            .map(|secret| secret.expose());
        let rest = self
            .loadbalancer_secrets
            .iter()
            .flat_map(|secrets| secrets.expose().split(':'));
        first
            .chain(rest)
            .filter(|secret| !secret.is_empty())
            .map(Secret::new)
            .collect()
    }

    /// The checksum algorithms in effect: which ones inbound checksums may use
    /// ([`AllowedAlgorithms::contains`]) and which one outbound BBB calls are signed with
    /// ([`AllowedAlgorithms::outbound`]). When `LOADBALANCER_CHECKSUM_ALGORITHM` is unset this is
    /// `AllowedAlgorithms::parse(None)` (SHA1, SHA256 and SHA512; outbound SHA256), which is its `Default`.
    pub fn checksum_algorithms(&self) -> AllowedAlgorithms {
        self.loadbalancer_checksum_algorithm.unwrap_or_default()
    }

    /// The FreeSWITCH API password in effect: `FSAPI_PASSWORD` if set (`None` when set but empty: no
    /// authentication), else the first LB secret (`None` when there is none).
    pub fn effective_fsapi_password(&self) -> Option<Secret> {
        match &self.fsapi_password {
            Some(password) if password.expose().is_empty() => None,
            Some(password) => Some(password.clone()),
            None => self.lb_secrets().into_iter().next(),
        }
    }
}

/// Timeouts of the HTTP calls to BBB servers (API and poller).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct BbbClientArgs {
    /// Connect timeout of calls to BBB servers, in seconds (fractions allowed).
    #[arg(long, env = "CONNECT_TIMEOUT", default_value = "5", value_parser = parse::seconds_f64())]
    pub connect_timeout: Duration,

    /// Response (read) timeout of calls to BBB servers, in seconds (fractions allowed). Calls to a server marked
    /// offline use a tenth of it, clamped.
    #[arg(long, env = "RESPONSE_TIMEOUT", default_value = "10", value_parser = parse::seconds_f64())]
    pub response_timeout: Duration,

    /// Largest answer read from a BBB server, in bytes; a longer answer counts as no answer (the server is
    /// unreachable). Large enough for getMeetings of a busy server.
    #[arg(long, env = "BBB_MAX_RESPONSE_SIZE", default_value = "16777216", value_parser = parse::whole_number())]
    pub bbb_max_response_size: u64,
}

/// Meetings: create/join parameter rewriting, durations, voice bridges.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct MeetingArgs {
    /// Longest meeting allowed, in minutes: caps `duration` on create and sets it when absent or 0. 0 = no limit.
    #[arg(long, env = "MAX_MEETING_DURATION", default_value = "0", value_parser = parse::minutes())]
    pub max_meeting_duration: Duration,

    /// Seconds before a meeting record that no server reports any more expires.
    #[arg(long, env = "DEFAULT_MEETING_TTL", default_value = "86400", value_parser = parse::seconds())]
    pub default_meeting_ttl: Duration,

    /// Comma-separated names of create parameters never forwarded to the BBB server.
    #[arg(long, env = "CREATE_EXCLUDE_PARAMS", default_value = "", value_parser = parse::comma_list())]
    pub create_exclude_params: std::vec::Vec<String>,

    /// Comma-separated names of join parameters never forwarded to the BBB server.
    #[arg(long, env = "JOIN_EXCLUDE_PARAMS", default_value = "", value_parser = parse::comma_list())]
    pub join_exclude_params: std::vec::Vec<String>,

    /// Create parameters added unless the client sends them: `k=v,k2=v2` (split on `,`, then on the first `=`).
    #[arg(long, env = "DEFAULT_CREATE_PARAMS", default_value = "", value_parser = parse::param_map())]
    pub default_create_params: std::vec::Vec<(String, String)>,

    /// Create parameters forced over the client's values: `k=v,k2=v2`.
    #[arg(long, env = "OVERRIDE_CREATE_PARAMS", default_value = "", value_parser = parse::param_map())]
    pub override_create_params: std::vec::Vec<(String, String)>,

    /// Join parameters added unless the client sends them: `k=v,k2=v2`.
    #[arg(long, env = "DEFAULT_JOIN_PARAMS", default_value = "", value_parser = parse::param_map())]
    pub default_join_params: std::vec::Vec<(String, String)>,

    /// Join parameters forced over the client's values: `k=v,k2=v2`.
    #[arg(long, env = "OVERRIDE_JOIN_PARAMS", default_value = "", value_parser = parse::param_map())]
    pub override_join_params: std::vec::Vec<(String, String)>,

    /// Number of digits of generated voice bridges (1 to 18).
    #[arg(long, env = "VOICE_BRIDGE_LEN", default_value = "9", value_parser = parse::digits())]
    pub voice_bridge_len: u32,

    /// Fewest digits the FreeSWITCH dial-in PIN prompt accepts.
    #[arg(long, env = "VOICE_BRIDGE_MIN", default_value = "5", value_parser = parse::digits())]
    pub voice_bridge_min: u32,

    /// Most digits the FreeSWITCH dial-in PIN prompt accepts.
    #[arg(long, env = "VOICE_BRIDGE_MAX", default_value = "9", value_parser = parse::digits())]
    pub voice_bridge_max: u32,

    /// Try the `voiceBridge` the client asks for on create before generating one.
    #[arg(long, env = "USE_EXTERNAL_VOICE_BRIDGE", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub use_external_voice_bridge: bool,

    /// Meeting failover: a join or create for a meeting whose server is offline, disabled, panicked or removed
    /// creates the meeting again, with the parameters of its create, on another server and moves it there
    /// (false: such a join answers an error, as the original does).
    #[arg(long, env = "MEETING_FAILOVER", action = ArgAction::Set, default_value = "true",
          value_parser = parse::bool())]
    pub meeting_failover: bool,

    /// Answer every getMeetings with no meetings.
    #[arg(long, env = "GET_MEETINGS_API_DISABLED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub get_meetings_api_disabled: bool,

    /// New servers get their lower-case host name as id instead of a random UUID.
    #[arg(long, env = "SERVER_ID_IS_HOSTNAME", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub server_id_is_hostname: bool,

    /// Longest dial-in call, in minutes (0 = no limit). Unset: MAX_MEETING_DURATION.
    #[arg(long, env = "FSAPI_MAX_DURATION", value_parser = parse::optional_minutes(), default_value = "",
          hide_default_value = true)]
    pub fsapi_max_duration: std::option::Option<Duration>,
}

impl MeetingArgs {
    /// `MAX_MEETING_DURATION` in minutes, `None` when there is no limit.
    pub fn max_duration_minutes(&self) -> Option<u64> {
        let minutes = self.max_meeting_duration.as_secs() / 60;
        (minutes > 0).then_some(minutes)
    }

    /// The dial-in call limit in effect: `FSAPI_MAX_DURATION`, else `MAX_MEETING_DURATION` (zero = no limit).
    pub fn effective_fsapi_max_duration(&self) -> Duration {
        self.fsapi_max_duration.unwrap_or(self.max_meeting_duration)
    }
}

/// The poller: cycle interval, health thresholds, concurrency, load rules.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct PollerArgs {
    /// Seconds the poller sleeps between cycles (fractions allowed, above 0).
    #[arg(long, env = "POLL_INTERVAL", default_value = "60", value_parser = parse::positive_seconds_f64())]
    pub poll_interval: Duration,

    /// Consecutive successful polls before an offline server is online again.
    #[arg(long, env = "SERVER_HEALTHY_THRESHOLD", default_value = "1", value_parser = parse::count())]
    pub server_healthy_threshold: u32,

    /// Consecutive failed polls before an online server goes offline and its meetings are dropped.
    #[arg(long, env = "SERVER_UNHEALTHY_THRESHOLD", default_value = "2", value_parser = parse::count())]
    pub server_unhealthy_threshold: u32,

    /// The poller's pool size, as in the original: POLLER_THREADS − 1 servers are polled at once (1 also polls one
    /// at a time), and as many again among the servers that are offline or failed their last poll.
    #[arg(long, env = "POLLER_THREADS", default_value = "5", value_parser = parse::positive_count())]
    pub poller_threads: u32,

    /// Whole seconds the poller waits for one server's answers before giving up on it in this cycle.
    #[arg(long, env = "POLLER_WAIT_TIMEOUT", default_value = "10", value_parser = parse::seconds())]
    pub poller_wait_timeout: Duration,

    /// Participants a meeting counts at least while younger than LOAD_JOIN_BUFFER_TIME.
    #[arg(long, env = "LOAD_MIN_USER_COUNT", default_value = "15", value_parser = parse::count())]
    pub load_min_user_count: u32,

    /// Minutes during which a new meeting counts at least LOAD_MIN_USER_COUNT participants.
    #[arg(long, env = "LOAD_JOIN_BUFFER_TIME", default_value = "15", value_parser = parse::minutes())]
    pub load_join_buffer_time: Duration,
}

/// Recordings: directories, import, playback protection, S3/CloudFront.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct RecordingArgs {
    /// Turn recordings off: the recording API calls answer stubs, playback routes are gone, the importer idles.
    #[arg(long, env = "RECORDING_DISABLED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub recording_disabled: bool,

    /// Refuse getRecordings without a meetingID or recordID.
    #[arg(long, env = "GET_RECORDINGS_API_FILTERED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub get_recordings_api_filtered: bool,

    /// Directory the BBB servers drop recording archives (`*.tar`) into.
    #[arg(long, env = "RECORDING_SPOOL_DIR", default_value = "/var/bigbluebutton/spool",
          value_parser = parse::path())]
    pub recording_spool_dir: PathBuf,

    /// Scratch directory for unpacking archives.
    #[arg(long, env = "RECORDING_WORK_DIR", default_value = "/var/bigbluebutton/recording/scalelite",
          value_parser = parse::path())]
    pub recording_work_dir: PathBuf,

    /// Published recordings: `<dir>/<format>/<record_id>`.
    #[arg(long, env = "RECORDING_PUBLISH_DIR", default_value = "/var/bigbluebutton/published",
          value_parser = parse::path())]
    pub recording_publish_dir: PathBuf,

    /// Unpublished recordings: `<dir>/<format>/<record_id>`.
    #[arg(long, env = "RECORDING_UNPUBLISH_DIR", default_value = "/var/bigbluebutton/unpublished",
          value_parser = parse::path())]
    pub recording_unpublish_dir: PathBuf,

    /// Import new recordings as unpublished.
    #[arg(long, env = "RECORDING_IMPORT_UNPUBLISHED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub recording_import_unpublished: bool,

    /// Playback formats served, `:`-separated.
    #[arg(long, env = "RECORDING_PLAYBACK_FORMATS", default_value = "presentation:video:screenshare:podcast:notes:capture",
          value_parser = parse::colon_list())]
    pub recording_playback_formats: std::vec::Vec<String>,

    /// Import new recordings as protected (one-time playback links) and show `<protected>` in getRecordings.
    #[arg(long, env = "PROTECTED_RECORDINGS_ENABLED", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub protected_recordings_enabled: bool,

    /// Minutes a one-time playback token stays valid.
    #[arg(long, env = "PROTECTED_RECORDINGS_TOKEN_TIMEOUT", default_value = "60", value_parser = parse::minutes())]
    pub protected_recordings_token_timeout: Duration,

    /// Minutes the playback cookie stays valid once a token is used.
    #[arg(long, env = "PROTECTED_RECORDINGS_TIMEOUT", default_value = "360", value_parser = parse::minutes())]
    pub protected_recordings_timeout: Duration,

    /// Seconds the importer waits between scans of the spool directory (fractions allowed, above 0).
    #[arg(long, env = "RECORDING_IMPORT_POLL_INTERVAL", default_value = "60", value_parser = parse::positive_seconds_f64())]
    pub recording_import_poll_interval: Duration,

    /// Importer: attempts at reaching the database before an import is given up for this pass.
    #[arg(long, env = "DB_CONNECTION_RETRY_COUNT", default_value = "3", value_parser = parse::count())]
    pub db_connection_retry_count: u32,

    /// Importer: most entries (files and directories) an archive may hold; a larger one goes to `failed/`.
    #[arg(long, env = "RECORDING_IMPORT_MAX_ENTRIES", default_value = "100000", value_parser = parse::whole_number())]
    pub recording_import_max_entries: u64,

    /// Importer: most bytes an archive may unpack to, all files together; a larger one goes to `failed/`.
    #[arg(long, env = "RECORDING_IMPORT_MAX_SIZE", default_value = "21474836480", value_parser = parse::whole_number())]
    pub recording_import_max_size: u64,

    /// Importer: largest single file an archive may hold, in bytes; a larger one goes to `failed/`.
    #[arg(long, env = "RECORDING_IMPORT_MAX_FILE_SIZE", default_value = "8589934592",
          value_parser = parse::whole_number())]
    pub recording_import_max_file_size: u64,

    /// Recordings live in S3 (S3_BUCKET_NAME) instead of the publish directory.
    #[arg(long, env = "S3_RECORDING", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub s3_recording: bool,

    /// The S3 bucket when S3_RECORDING is on. Credentials and region: the AWS_* variables below.
    #[arg(long, env = "S3_BUCKET_NAME", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub s3_bucket_name: std::option::Option<String>,

    /// AWS region of the S3 bucket (S3_RECORDING).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1", value_parser = parse::string())]
    pub aws_region: String,

    /// AWS access key id for S3 (S3_RECORDING).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub aws_access_key_id: std::option::Option<String>,

    /// AWS secret access key for S3 (S3_RECORDING).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub aws_secret_access_key: std::option::Option<Secret>,

    /// AWS session token of temporary credentials for S3 (S3_RECORDING).
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub aws_session_token: std::option::Option<Secret>,

    /// S3-compatible endpoint (MinIO, Ceph, ...), addressed path-style. Unset: AWS S3
    /// (`https://<bucket>.s3.<region>.amazonaws.com`).
    #[arg(long, env = "AWS_ENDPOINT_URL", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub aws_endpoint_url: std::option::Option<String>,

    /// S3 uploads: files of at least this many bytes are uploaded in parts (multipart upload), smaller ones in one
    /// request.
    #[arg(long, env = "S3_MULTIPART_THRESHOLD", default_value = "8388608", value_parser = parse::whole_number())]
    pub s3_multipart_threshold: u64,

    /// S3 uploads: bytes per part of a multipart upload, 5 MiB to 5 GiB (the importer holds about one part in
    /// memory).
    #[arg(long, env = "S3_PART_SIZE", default_value = "8388608", value_parser = parse::whole_number())]
    pub s3_part_size: u64,

    /// Serve playback through this CloudFront URL with signed cookies.
    #[arg(long, env = "CLOUDFRONT_URL", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub cloudfront_url: std::option::Option<String>,

    /// CloudFront signing key: a base64-encoded PEM private key.
    #[arg(long, env = "CF_PRIVATE_KEY_B64", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub cf_private_key_b64: std::option::Option<Secret>,

    /// CloudFront key-pair id matching CF_PRIVATE_KEY_B64.
    #[arg(long, env = "CF_KEY_PAIR_ID", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub cf_key_pair_id: std::option::Option<String>,
}

/// Where state is kept: PostgreSQL + Redis (production), or one SQLite file (embedded).
#[derive(Args, Clone, PartialEq, Eq)]
pub struct StorageArgs {
    /// PostgreSQL URL (`postgres://...`), or `sqlite:PATH` for the embedded store. With neither DATABASE_URL nor
    /// REDIS_URL set, the embedded store is used.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = parse::optional_string(),
          default_value = "", hide_default_value = true)]
    pub database_url: std::option::Option<String>,

    /// Redis URL. Default with a PostgreSQL DATABASE_URL: redis://localhost:6379. Needs DATABASE_URL.
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = parse::optional_string(),
          default_value = "", hide_default_value = true)]
    pub redis_url: std::option::Option<String>,

    /// Prefix of every Redis key (`<namespace>:<key>`), shared with the original.
    #[arg(long, env = "REDIS_NAMESPACE", default_value = "scalelite", value_parser = parse::string())]
    pub redis_namespace: String,

    /// PostgreSQL connection pool size (at least 2; the name is the original's). Redis uses one multiplexed
    /// connection.
    #[arg(long, env = "REDIS_POOL", default_value = "5", value_parser = parse::positive_count())]
    pub redis_pool: u32,

    /// Longest one Redis operation may take, in seconds (fractions allowed), connecting included; a Redis that
    /// does not answer fails the operation after this long and the connection is dialled again.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "2", value_parser = parse::positive_seconds_f64())]
    pub redis_timeout: Duration,

    /// Accepted but no effect yet: statements are always prepared (PgBouncer in transaction mode needs 1.21+ with
    /// max_prepared_statements).
    #[arg(long, env = "PREPARED_STATEMENT", action = ArgAction::Set, default_value = "true",
          value_parser = parse::bool())]
    pub prepared_statement: bool,

    /// Directory of the embedded store's file (`scalelite.sqlite3`) when no DATABASE_URL is set. Unset: the
    /// current directory.
    #[arg(long, env = "SCALELITE_DATA_DIR", value_parser = parse::optional_path(), default_value = "",
          hide_default_value = true)]
    pub scalelite_data_dir: std::option::Option<PathBuf>,
}

impl fmt::Debug for StorageArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageArgs")
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_namespace", &self.redis_namespace)
            .field("redis_pool", &self.redis_pool)
            .field("redis_timeout", &self.redis_timeout)
            .field("prepared_statement", &self.prepared_statement)
            .field("scalelite_data_dir", &self.scalelite_data_dir)
            .finish()
    }
}

impl StorageArgs {
    /// Choose the storage back-end:
    ///
    /// - neither DATABASE_URL nor REDIS_URL: embedded, `SCALELITE_DATA_DIR/scalelite.sqlite3` (or
    ///   `./scalelite.sqlite3`);
    /// - DATABASE_URL `sqlite:PATH` (also `sqlite://PATH`, `sqlite:///abs/path`; a `?query` is dropped): embedded at
    ///   PATH;
    /// - DATABASE_URL `postgres://` or `postgresql://`: production, REDIS_URL defaulting to
    ///   `redis://localhost:6379`.
    ///
    /// # Errors
    /// [`ConfigError::Combination`] when REDIS_URL is set without DATABASE_URL, or together with a `sqlite:`
    /// DATABASE_URL; [`ConfigError::Value`] for another DATABASE_URL scheme or an empty `sqlite:` path.
    pub fn backend(&self) -> Result<BackendChoice, ConfigError> {
        let Some(database_url) = self.database_url.as_deref() else {
            if self.redis_url.is_some() {
                return Err(ConfigError::Combination(
                    "DATABASE_URL must be set when REDIS_URL is set (leave both unset for the embedded SQLite store)"
                        .to_owned(),
                ));
            }
            let directory = self
                .scalelite_data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("."));
            return Ok(BackendChoice::Embedded {
                path: directory.join(EMBEDDED_DATABASE_FILE),
            });
        };
        if let Some(rest) = database_url.strip_prefix("sqlite:") {
            if self.redis_url.is_some() {
                return Err(ConfigError::Combination(
                    "REDIS_URL cannot be used with a sqlite: DATABASE_URL (the embedded store keeps everything in SQLite)"
                        .to_owned(),
                ));
            }
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split_once('?').map_or(path, |(path, _query)| path);
            if path.is_empty() {
                return Err(ConfigError::Value(
                    "invalid value for DATABASE_URL: expected a file path after sqlite:".to_owned(),
                ));
            }
            return Ok(BackendChoice::Embedded {
                path: PathBuf::from(path),
            });
        }
        let scheme = database_url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(ConfigError::Value(format!(
                "invalid value for DATABASE_URL: expected a postgres:// or sqlite: URL, got {}",
                scheme.map_or_else(
                    || "no scheme".to_owned(),
                    |scheme| format!("scheme {scheme:?}")
                )
            )));
        }
        Ok(BackendChoice::Production {
            database_url: database_url.to_owned(),
            redis_url: self
                .redis_url
                .clone()
                .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned()),
            namespace: self.redis_namespace.clone(),
            redis_pool: self.redis_pool,
            redis_timeout: self.redis_timeout,
            prepared_statements: self.prepared_statement,
        })
    }
}

/// The HTTP listener of the API.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct HttpArgs {
    /// TCP port to listen on (all IPv4 interfaces) when BIND is unset.
    #[arg(long, env = "PORT", default_value = "3000", value_parser = parse::port())]
    pub port: u16,

    /// Listen address, puma style: `tcp://HOST:PORT` or `HOST:PORT` (HOST an IP address or localhost). Takes
    /// precedence over PORT.
    #[arg(long, env = "BIND", value_parser = parse::bind_address(), default_value = "", hide_default_value = true)]
    pub bind: std::option::Option<SocketAddr>,

    /// Seconds a client may take to send a request's line and headers, from the connection's start or from its
    /// first byte on a kept-alive connection (fractions allowed). Past it the connection is closed.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT", default_value = "10", value_parser = parse::positive_seconds_f64())]
    pub http_header_timeout: Duration,

    /// Seconds a client may take to send a request's whole body (fractions allowed). Past it the request fails
    /// and the connection is closed.
    #[arg(long, env = "HTTP_BODY_TIMEOUT", default_value = "60", value_parser = parse::positive_seconds_f64())]
    pub http_body_timeout: Duration,

    /// Seconds an idle kept-alive connection stays open waiting for the next request (fractions allowed).
    #[arg(long, env = "HTTP_KEEPALIVE_TIMEOUT", default_value = "75", value_parser = parse::positive_seconds_f64())]
    pub http_keepalive_timeout: Duration,

    /// Largest request body of create and insertDocument (pre-uploaded presentations), in bytes. A longer body is
    /// refused before it is read.
    #[arg(long, env = "MAX_REQUEST_BODY_SIZE", default_value = "33554432", value_parser = parse::whole_number())]
    pub max_request_body_size: u64,

    /// Largest request body of every other route, in bytes.
    #[arg(long, env = "MAX_SMALL_BODY_SIZE", default_value = "65536", value_parser = parse::whole_number())]
    pub max_small_body_size: u64,

    /// Requests handled at once; one more is answered 503 at once (BBB `FAILED` on the API).
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value = "1024", value_parser = parse::positive_count())]
    pub max_concurrent_requests: u32,

    /// Also serve `GET /metrics` on the API's own port. Off: metrics only on METRICS_BIND.
    #[arg(long, env = "METRICS_PUBLIC", action = ArgAction::Set, default_value = "false",
          value_parser = parse::bool())]
    pub metrics_public: bool,
}

impl HttpArgs {
    /// The address to listen on: BIND, else `0.0.0.0:PORT`.
    pub fn listen_addr(&self) -> SocketAddr {
        self.bind.unwrap_or(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            self.port,
        ))
    }
}

/// The metrics listener: a separate `HOST:PORT` serving `GET /metrics` (API, poller, importer).
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct MetricsArgs {
    /// Address (`HOST:PORT`, e.g. `127.0.0.1:9100`) of a listener serving Prometheus metrics at `GET /metrics`.
    /// Unset: no listener (the API then serves none unless METRICS_PUBLIC is on).
    #[arg(long, env = "METRICS_BIND", value_parser = parse::bind_address(), default_value = "",
          hide_default_value = true)]
    pub metrics_bind: std::option::Option<SocketAddr>,
}

/// Graceful shutdown.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct ShutdownArgs {
    /// Seconds to let in-flight work finish after SIGTERM or SIGINT before exiting anyway (fractions allowed).
    #[arg(long, env = "SHUTDOWN_GRACE_PERIOD", default_value = "30", value_parser = parse::seconds_f64())]
    pub shutdown_grace_period: Duration,
}

/// Logging.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct LogArgs {
    /// Log filter in tracing's `EnvFilter` syntax (e.g. `info,scalelite_api=debug`); overrides RAILS_LOG_LEVEL.
    #[arg(long, env = "RUST_LOG", value_parser = parse::env_filter(), default_value = "", hide_default_value = true)]
    pub rust_log: std::option::Option<String>,

    /// Log level of the Scalelite services when RUST_LOG is unset: debug, info, warn, error or fatal. Unset: info.
    #[arg(long, env = "RAILS_LOG_LEVEL", value_parser = parse::log_level(), default_value = "",
          hide_default_value = true)]
    pub rails_log_level: std::option::Option<LogLevel>,

    /// Log line format: `plain` (timestamp, level, target, message) or `json` (one object per line).
    #[arg(long, env = "LOG_FORMAT", default_value = "plain", value_parser = parse::log_format())]
    pub log_format: LogFormat,
}

/// Everything else: build number, cookie signing key, locale.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct MiscArgs {
    /// Build number reported as `<build>` by the API index.
    #[arg(long, env = "BUILD_NUMBER", value_parser = parse::optional_string(), default_value = "",
          hide_default_value = true)]
    pub build_number: std::option::Option<String>,

    /// Key signing the protected-recording playback cookies.
    #[arg(long, env = "SECRET_KEY_BASE", hide_env_values = true, value_parser = parse::optional_secret(),
          default_value = "", hide_default_value = true)]
    pub secret_key_base: std::option::Option<Secret>,

    /// Locale of error pages.
    #[arg(long, env = "DEFAULT_LOCALE", default_value = "en", value_parser = parse::string())]
    pub default_locale: String,
}

/// `Default` for each struct: every variable unset.
macro_rules! default_from_empty_env {
    ($($name:ident),* $(,)?) => {$(
        impl Default for $name {
            fn default() -> Self {
                // The defaults are constants checked by the unit tests, so this cannot fail.
                super::from_env_map(&std::collections::HashMap::new())
                    .expect("the built-in defaults are valid")
            }
        }
    )*};
}

default_from_empty_env!(
    SecretsArgs,
    BbbClientArgs,
    MeetingArgs,
    PollerArgs,
    RecordingArgs,
    StorageArgs,
    HttpArgs,
    MetricsArgs,
    ShutdownArgs,
    LogArgs,
    MiscArgs,
);
