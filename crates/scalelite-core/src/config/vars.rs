//! The documented list of environment variables. A unit test checks it against the `Args` structs both ways, and
//! that every default given here is the one clap applies.

/// Every variable the services read: `(name, default, meaning)`. An empty default means "unset"; a default in words
/// (e.g. "first LB secret") is derived from other variables. Grouped as in the original's documentation.
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    // Secrets, checksums, multitenancy.
    (
        "LOADBALANCER_SECRET",
        "",
        "Main API secret; the first secret accepted on API checksums.",
    ),
    (
        "LOADBALANCER_SECRETS",
        "",
        "More accepted API secrets, `:`-separated, tried after LOADBALANCER_SECRET.",
    ),
    (
        "LOADBALANCER_CHECKSUM_ALGORITHM",
        "SHA1:SHA256:SHA512",
        "Accepted inbound checksum algorithms, `:`-separated (SHA1, SHA256, SHA512; SHA384 may be listed but is \
         never accepted). Unset: all three, outbound SHA256. Set: outbound uses the strongest listed. Set but \
         empty: no inbound checksum is accepted.",
    ),
    (
        "MULTITENANCY_ENABLED",
        "false",
        "Resolve tenants from the request's subdomain and check their secrets.",
    ),
    (
        "URL_HOST",
        "",
        "Public host name: host allow-list, analytics callback URLs, FreeSWITCH realm.",
    ),
    (
        "FSAPI_PASSWORD",
        "first LB secret",
        "Basic-auth password of `/fsapi`; set but empty: no authentication.",
    ),
    (
        "FSAPI_AUTH_DISABLED",
        "false",
        "Serve `/fsapi` without authentication when there is no password; otherwise it refuses (ours).",
    ),
    (
        "ADMIN_API_SECRET",
        "",
        "Only secret accepted by the admin API `/scalelite/api/*`; unset: the LB secrets (ours).",
    ),
    (
        "ADMIN_API_LEGACY_CHECKSUM",
        "false",
        "Also accept the original's admin checksum that does not cover the JSON body; logs a warning per use (ours).",
    ),
    (
        "ADMIN_API_MAX_AGE",
        "0",
        "Admin API replay window, seconds: a signed `timestamp` (Unix seconds) is then required; 0 = off (ours).",
    ),
    // Calls to BBB servers.
    (
        "CONNECT_TIMEOUT",
        "5",
        "Connect timeout of calls to BBB servers, seconds (fractions allowed).",
    ),
    (
        "RESPONSE_TIMEOUT",
        "10",
        "Response timeout of calls to BBB servers, seconds (fractions allowed).",
    ),
    (
        "BBB_MAX_RESPONSE_SIZE",
        "16777216",
        "Largest answer read from a BBB server, bytes; longer counts as no answer (ours).",
    ),
    // Meetings.
    (
        "MAX_MEETING_DURATION",
        "0",
        "Longest meeting in minutes (caps/sets create's `duration`); 0 = no limit.",
    ),
    (
        "DEFAULT_MEETING_TTL",
        "86400",
        "Seconds before a meeting record no server reports any more expires.",
    ),
    (
        "CREATE_EXCLUDE_PARAMS",
        "",
        "Comma-separated create parameters never forwarded.",
    ),
    (
        "JOIN_EXCLUDE_PARAMS",
        "",
        "Comma-separated join parameters never forwarded.",
    ),
    (
        "DEFAULT_CREATE_PARAMS",
        "",
        "`k=v,k2=v2`: create parameters added unless the client sends them.",
    ),
    (
        "OVERRIDE_CREATE_PARAMS",
        "",
        "`k=v,k2=v2`: create parameters forced over the client's values.",
    ),
    (
        "DEFAULT_JOIN_PARAMS",
        "",
        "`k=v,k2=v2`: join parameters added unless the client sends them.",
    ),
    (
        "OVERRIDE_JOIN_PARAMS",
        "",
        "`k=v,k2=v2`: join parameters forced over the client's values.",
    ),
    (
        "VOICE_BRIDGE_LEN",
        "9",
        "Digits of generated voice bridges (1 to 18).",
    ),
    (
        "VOICE_BRIDGE_MIN",
        "5",
        "Fewest digits the FreeSWITCH dial-in PIN prompt accepts.",
    ),
    (
        "VOICE_BRIDGE_MAX",
        "9",
        "Most digits the FreeSWITCH dial-in PIN prompt accepts.",
    ),
    (
        "USE_EXTERNAL_VOICE_BRIDGE",
        "false",
        "Try the client's `voiceBridge` on create before generating one.",
    ),
    (
        "MEETING_FAILOVER",
        "true",
        "Re-create a meeting whose server is lost on another server at the next join or create (ours).",
    ),
    (
        "GET_MEETINGS_API_DISABLED",
        "false",
        "Answer every getMeetings with no meetings.",
    ),
    (
        "SERVER_ID_IS_HOSTNAME",
        "false",
        "New servers get their lower-case host name as id instead of a UUID.",
    ),
    (
        "FSAPI_MAX_DURATION",
        "MAX_MEETING_DURATION",
        "Longest dial-in call in minutes; 0 = no limit.",
    ),
    // Poller.
    (
        "POLL_INTERVAL",
        "60",
        "Seconds between poller cycles (fractions allowed, above 0).",
    ),
    (
        "SERVER_HEALTHY_THRESHOLD",
        "1",
        "Consecutive successful polls before an offline server is online again.",
    ),
    (
        "SERVER_UNHEALTHY_THRESHOLD",
        "2",
        "Consecutive failed polls before an online server goes offline.",
    ),
    (
        "POLLER_THREADS",
        "5",
        "Poller pool size as in the original: POLLER_THREADS − 1 servers polled at once (at least 1), as many again \
         among offline ones.",
    ),
    (
        "POLLER_WAIT_TIMEOUT",
        "10",
        "Whole seconds the poller waits for one server in a cycle.",
    ),
    (
        "LOAD_MIN_USER_COUNT",
        "15",
        "Participants a meeting counts at least while younger than the join buffer.",
    ),
    (
        "LOAD_JOIN_BUFFER_TIME",
        "15",
        "Minutes during which a new meeting counts LOAD_MIN_USER_COUNT.",
    ),
    // Recordings.
    (
        "RECORDING_DISABLED",
        "false",
        "Turn recordings off (API stubs, no playback routes, idle importer).",
    ),
    (
        "GET_RECORDINGS_API_FILTERED",
        "false",
        "Refuse getRecordings without meetingID or recordID.",
    ),
    (
        "RECORDING_SPOOL_DIR",
        "/var/bigbluebutton/spool",
        "Where BBB servers drop recording archives.",
    ),
    (
        "RECORDING_WORK_DIR",
        "/var/bigbluebutton/recording/scalelite",
        "Scratch directory for unpacking.",
    ),
    (
        "RECORDING_PUBLISH_DIR",
        "/var/bigbluebutton/published",
        "Published recordings.",
    ),
    (
        "RECORDING_UNPUBLISH_DIR",
        "/var/bigbluebutton/unpublished",
        "Unpublished recordings.",
    ),
    (
        "RECORDING_IMPORT_UNPUBLISHED",
        "false",
        "Import new recordings as unpublished.",
    ),
    (
        "RECORDING_PLAYBACK_FORMATS",
        "presentation:video:screenshare:podcast:notes:capture",
        "Playback formats served, `:`-separated.",
    ),
    (
        "PROTECTED_RECORDINGS_ENABLED",
        "false",
        "Import new recordings as protected (one-time playback links).",
    ),
    (
        "PROTECTED_RECORDINGS_TOKEN_TIMEOUT",
        "60",
        "Minutes a one-time playback token stays valid.",
    ),
    (
        "PROTECTED_RECORDINGS_TIMEOUT",
        "360",
        "Minutes the playback cookie stays valid once a token is used.",
    ),
    (
        "RECORDING_IMPORT_POLL_INTERVAL",
        "60",
        "Seconds between spool directory scans (fractions allowed, above 0).",
    ),
    (
        "DB_CONNECTION_RETRY_COUNT",
        "3",
        "Importer: attempts at reaching the database before giving up a pass.",
    ),
    (
        "RECORDING_IMPORT_MAX_ENTRIES",
        "100000",
        "Most entries a recording archive may hold; more: the archive goes to `failed/` (ours).",
    ),
    (
        "RECORDING_IMPORT_MAX_SIZE",
        "21474836480",
        "Most bytes a recording archive may unpack to; more: `failed/` (ours).",
    ),
    (
        "RECORDING_IMPORT_MAX_FILE_SIZE",
        "8589934592",
        "Largest file in a recording archive, bytes; larger: `failed/` (ours).",
    ),
    (
        "S3_RECORDING",
        "false",
        "Recordings live in S3 (S3_BUCKET_NAME).",
    ),
    (
        "S3_BUCKET_NAME",
        "",
        "The S3 bucket; credentials and region from the AWS_* variables.",
    ),
    (
        "AWS_REGION",
        "us-east-1",
        "AWS region of the S3 bucket (S3_RECORDING).",
    ),
    (
        "AWS_ACCESS_KEY_ID",
        "",
        "AWS access key id for S3 (S3_RECORDING).",
    ),
    (
        "AWS_SECRET_ACCESS_KEY",
        "",
        "AWS secret access key for S3 (S3_RECORDING).",
    ),
    (
        "AWS_SESSION_TOKEN",
        "",
        "AWS session token of temporary credentials for S3.",
    ),
    (
        "AWS_ENDPOINT_URL",
        "",
        "S3-compatible endpoint (MinIO, ...), addressed path-style; unset: AWS S3.",
    ),
    (
        "S3_MULTIPART_THRESHOLD",
        "8388608",
        "Files of at least this many bytes go to S3 as a multipart upload (ours).",
    ),
    (
        "S3_PART_SIZE",
        "8388608",
        "Bytes per part of an S3 multipart upload, 5 MiB to 5 GiB (ours).",
    ),
    (
        "CLOUDFRONT_URL",
        "",
        "CloudFront playback URL; with the CF_* key, resources redirect there with signed cookies.",
    ),
    (
        "CF_PRIVATE_KEY_B64",
        "",
        "CloudFront signing key: a base64-encoded PEM RSA private key.",
    ),
    (
        "CF_KEY_PAIR_ID",
        "",
        "CloudFront key-pair id (public key id) of CF_PRIVATE_KEY_B64.",
    ),
    // Storage.
    (
        "DATABASE_URL",
        "",
        "PostgreSQL URL, or `sqlite:PATH`; with neither it nor REDIS_URL: embedded SQLite.",
    ),
    (
        "REDIS_URL",
        "redis://localhost:6379",
        "Redis URL (needs DATABASE_URL).",
    ),
    ("REDIS_NAMESPACE", "scalelite", "Prefix of every Redis key."),
    (
        "REDIS_POOL",
        "5",
        "PostgreSQL connection pool size (at least 2); Redis uses one multiplexed connection.",
    ),
    (
        "REDIS_TIMEOUT",
        "2",
        "Longest one Redis operation may take, seconds (fractions allowed; ours).",
    ),
    (
        "PREPARED_STATEMENT",
        "true",
        "Accepted, no effect yet: statements are always prepared (PgBouncer transaction mode needs 1.21+).",
    ),
    (
        "SCALELITE_DATA_DIR",
        ".",
        "Directory of the embedded store's `scalelite.sqlite3` (ours).",
    ),
    // HTTP, shutdown, logging.
    (
        "PORT",
        "3000",
        "TCP port of the API (all IPv4 interfaces) when BIND is unset.",
    ),
    (
        "BIND",
        "",
        "Listen address `tcp://HOST:PORT` or `HOST:PORT`; takes precedence over PORT.",
    ),
    (
        "HTTP_HEADER_TIMEOUT",
        "10",
        "Seconds a client may take to send a request's line and headers (ours).",
    ),
    (
        "HTTP_BODY_TIMEOUT",
        "60",
        "Seconds a client may take to send a request's body (ours).",
    ),
    (
        "HTTP_KEEPALIVE_TIMEOUT",
        "75",
        "Seconds an idle kept-alive connection stays open (ours).",
    ),
    (
        "MAX_REQUEST_BODY_SIZE",
        "33554432",
        "Largest body of create, insertDocument and analytics_callback, bytes (ours).",
    ),
    (
        "MAX_SMALL_BODY_SIZE",
        "65536",
        "Largest body of every other request, bytes (ours).",
    ),
    (
        "MAX_CONCURRENT_REQUESTS",
        "1024",
        "Requests handled at once; more are answered 503 (ours).",
    ),
    (
        "METRICS_PUBLIC",
        "false",
        "Also serve `/metrics` on the API's port (ours).",
    ),
    (
        "METRICS_BIND",
        "",
        "`HOST:PORT` of a listener serving Prometheus `/metrics` (API, poller, importer); unset: none (ours).",
    ),
    (
        "SHUTDOWN_GRACE_PERIOD",
        "30",
        "Seconds in-flight work may take after SIGTERM/SIGINT (ours).",
    ),
    (
        "RUST_LOG",
        "",
        "Log filter (tracing EnvFilter syntax); overrides RAILS_LOG_LEVEL (ours).",
    ),
    (
        "RAILS_LOG_LEVEL",
        "info",
        "Log level when RUST_LOG is unset: debug, info, warn, error, fatal.",
    ),
    (
        "LOG_FORMAT",
        "plain",
        "Log lines: `plain` or `json` (ours).",
    ),
    // Misc.
    (
        "BUILD_NUMBER",
        "",
        "Reported as `<build>` by the API index.",
    ),
    (
        "SECRET_KEY_BASE",
        "",
        "Key signing the protected-recording playback cookies.",
    ),
    (
        "DEFAULT_LOCALE",
        "en",
        "Locale of error pages; English is the only one (as in the original), so it has no effect.",
    ),
];

/// Variables the original (or its scripts) reads that have no effect here: `(name, why)`. They are accepted and
/// ignored, so an existing `/etc/default/scalelite` works unchanged.
pub const IGNORED_VARIABLES: &[(&str, &str)] = &[
    (
        "RAILS_ENV",
        "Rails environment; there is one behaviour here (production).",
    ),
    (
        "RAILS_MAX_THREADS",
        "puma threads and pool sizes; the async runtime needs no thread count (see REDIS_POOL).",
    ),
    ("RAILS_MIN_THREADS", "puma threads."),
    ("WEB_CONCURRENCY", "puma worker processes."),
    ("RAILS_LOG_TO_STDOUT", "logs always go to standard error."),
    (
        "RAILS_SERVE_STATIC_FILES",
        "there are no static files to serve.",
    ),
    (
        "DB_DISABLED",
        "partially disabled ActiveRecord in the original; nothing to disable here.",
    ),
    (
        "RECORDING_IMPORT_POLL",
        "passed to the original importer and ignored by it.",
    ),
    (
        "INTERVAL",
        "documented by the original but never read; POLL_INTERVAL is.",
    ),
    (
        "SCALELITE_API_PORT",
        "read by the nginx templates, not by the services.",
    ),
    ("NGINX_SSL", "nginx container only."),
    ("NGINX_BEHIND_PROXY", "nginx container only."),
    ("BEHIND_PROXY", "nginx container only (legacy name)."),
    ("NGINX_RECORDINGS_ONLY", "nginx container only."),
    ("NGINX_HOSTNAME", "nginx image, unused there too."),
    ("SCALELITE_TAG", "systemd units: image tag to pull."),
    (
        "SCALELITE_RECORDING_DIR",
        "systemd units: host directory mounted at /var/bigbluebutton.",
    ),
    (
        "SCALELITE_API_EXTRA_OPTS",
        "systemd units: extra docker run options.",
    ),
    (
        "SCALELITE_NGINX_EXTRA_OPTS",
        "systemd units: extra docker run options.",
    ),
];
