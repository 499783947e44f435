//! Configuration contract of the variables `scalelite-api` accepts without acting on them: those the original (or
//! its scripts) reads that mean nothing here, and the CloudFront ones we do not support yet. Each
//! `contract_<variable>` starts the real binary with that variable set to a value the original would act on and
//! shows the API behaving as without it (and, where the operator must know, saying so in the log).

use std::path::Path;

use scalelite_testkit::contract::{SECRET, get, signed_query, tag, with_env};
use scalelite_testkit::process::Service;
use scalelite_testkit::{Backend, test_store};

const BIN: &str = env!("CARGO_BIN_EXE_scalelite-api");

/// The API with `name=value` answers its index and a signed call as usual; returns its log.
async fn behaves_as_without(name: &str, value: &str) -> String {
    let store = test_store(Backend::Embedded).await;
    let api = Service::spawn_listening(
        Path::new(BIN),
        &[],
        &with_env(store.env(), &[(name, value)]),
    )
    .await;
    let (status, _, index) = get(&api.url("/bigbluebutton/api")).await;
    assert_eq!(status, 200, "{name}={value}: {index}");
    assert_eq!(tag(&index, "returncode"), Some("SUCCESS"));
    let query = signed_query("getMeetings", "", SECRET);
    let (_, _, body) = get(&api.url(&format!("/bigbluebutton/api/getMeetings?{query}"))).await;
    assert_eq!(
        tag(&body, "messageKey"),
        Some("noMeetings"),
        "{name}={value}: {body}"
    );
    api.log()
}

macro_rules! ignored {
    ($($test:ident: $name:literal = $value:literal;)*) => {$(
        #[tokio::test]
        async fn $test() {
            behaves_as_without($name, $value).await;
        }
    )*};
}

ignored! {
    contract_rails_env: "RAILS_ENV" = "development";
    contract_rails_max_threads: "RAILS_MAX_THREADS" = "1";
    contract_rails_min_threads: "RAILS_MIN_THREADS" = "1";
    contract_web_concurrency: "WEB_CONCURRENCY" = "8";
    contract_rails_log_to_stdout: "RAILS_LOG_TO_STDOUT" = "true";
    contract_rails_serve_static_files: "RAILS_SERVE_STATIC_FILES" = "true";
    contract_db_disabled: "DB_DISABLED" = "true";
    contract_recording_import_poll: "RECORDING_IMPORT_POLL" = "true";
    contract_interval: "INTERVAL" = "1";
    contract_scalelite_api_port: "SCALELITE_API_PORT" = "1";
    contract_nginx_ssl: "NGINX_SSL" = "true";
    contract_nginx_behind_proxy: "NGINX_BEHIND_PROXY" = "true";
    contract_behind_proxy: "BEHIND_PROXY" = "true";
    contract_nginx_recordings_only: "NGINX_RECORDINGS_ONLY" = "true";
    contract_nginx_hostname: "NGINX_HOSTNAME" = "lb.example.com";
    contract_scalelite_tag: "SCALELITE_TAG" = "v1.6";
    contract_scalelite_recording_dir: "SCALELITE_RECORDING_DIR" = "/mnt/recordings";
    contract_scalelite_api_extra_opts: "SCALELITE_API_EXTRA_OPTS" = "--memory=1g";
    contract_scalelite_nginx_extra_opts: "SCALELITE_NGINX_EXTRA_OPTS" = "--memory=1g";
}

/// CloudFront is not supported yet: each of its variables is named in a start-up warning and playback is served
/// as without it.
async fn warned_and_ignored(name: &str, value: &str) {
    let log = behaves_as_without(name, value).await;
    assert!(
        log.lines().any(|line| line.contains("WARN")
            && line.contains(name)
            && line.contains("not supported")),
        "{log}"
    );
    assert!(!log.contains(value), "the value is not logged: {log}");
}

#[tokio::test]
async fn contract_cloudfront_url() {
    warned_and_ignored("CLOUDFRONT_URL", "https://d111111abcdef8.cloudfront.net").await;
}

#[tokio::test]
async fn contract_cf_private_key_b64() {
    warned_and_ignored("CF_PRIVATE_KEY_B64", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t").await;
}

#[tokio::test]
async fn contract_cf_key_pair_id() {
    warned_and_ignored("CF_KEY_PAIR_ID", "K2JCJMDEHXQW5F").await;
}

/// Error pages exist in English only (as in the original): another locale gives the same page.
#[tokio::test]
async fn contract_default_locale() {
    let store = test_store(Backend::Embedded).await;
    let api = Service::spawn_listening(
        Path::new(BIN),
        &[],
        &with_env(store.env(), &[("DEFAULT_LOCALE", "de")]),
    )
    .await;
    let (status, _, page) = get(&api.url("/presentation/no-such-recording/")).await;
    assert_eq!(status, 404);
    assert!(page.contains("<h1>Recording Not Found</h1>"), "{page}");
}
