//! Configuration contract of the variables `scalelite-api` accepts without acting on them: those the original (or
//! its scripts) reads that mean nothing here. Each
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

#[tokio::test]
async fn contract_rails_env() {
    behaves_as_without("RAILS_ENV", "development").await;
}

#[tokio::test]
async fn contract_rails_max_threads() {
    behaves_as_without("RAILS_MAX_THREADS", "1").await;
}

#[tokio::test]
async fn contract_rails_min_threads() {
    behaves_as_without("RAILS_MIN_THREADS", "1").await;
}

#[tokio::test]
async fn contract_web_concurrency() {
    behaves_as_without("WEB_CONCURRENCY", "8").await;
}

#[tokio::test]
async fn contract_rails_log_to_stdout() {
    behaves_as_without("RAILS_LOG_TO_STDOUT", "true").await;
}

#[tokio::test]
async fn contract_rails_serve_static_files() {
    behaves_as_without("RAILS_SERVE_STATIC_FILES", "true").await;
}

#[tokio::test]
async fn contract_db_disabled() {
    behaves_as_without("DB_DISABLED", "true").await;
}

#[tokio::test]
async fn contract_recording_import_poll() {
    behaves_as_without("RECORDING_IMPORT_POLL", "true").await;
}

#[tokio::test]
async fn contract_interval() {
    behaves_as_without("INTERVAL", "1").await;
}

#[tokio::test]
async fn contract_scalelite_api_port() {
    behaves_as_without("SCALELITE_API_PORT", "1").await;
}

#[tokio::test]
async fn contract_nginx_ssl() {
    behaves_as_without("NGINX_SSL", "true").await;
}

#[tokio::test]
async fn contract_nginx_behind_proxy() {
    behaves_as_without("NGINX_BEHIND_PROXY", "true").await;
}

#[tokio::test]
async fn contract_behind_proxy() {
    behaves_as_without("BEHIND_PROXY", "true").await;
}

#[tokio::test]
async fn contract_nginx_recordings_only() {
    behaves_as_without("NGINX_RECORDINGS_ONLY", "true").await;
}

#[tokio::test]
async fn contract_nginx_hostname() {
    behaves_as_without("NGINX_HOSTNAME", "lb.example.com").await;
}

#[tokio::test]
async fn contract_scalelite_tag() {
    behaves_as_without("SCALELITE_TAG", "v1.6").await;
}

#[tokio::test]
async fn contract_scalelite_recording_dir() {
    behaves_as_without("SCALELITE_RECORDING_DIR", "/mnt/recordings").await;
}

#[tokio::test]
async fn contract_scalelite_api_extra_opts() {
    behaves_as_without("SCALELITE_API_EXTRA_OPTS", "--memory=1g").await;
}

#[tokio::test]
async fn contract_scalelite_nginx_extra_opts() {
    behaves_as_without("SCALELITE_NGINX_EXTRA_OPTS", "--memory=1g").await;
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
