//! The services' wiring, run from their libraries as the binaries run it (`service::run_until`): the API all-in-one,
//! a standalone poller and a standalone importer, each with its `/metrics` listener, each returning cleanly when
//! shutdown is triggered. The binaries themselves are tested in `crates/*/tests/`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use scalelite_core::shutdown::Shutdown;
use scalelite_testkit::contract::free_port;

/// A hang guard for awaits that must finish; not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// The arguments every service gets here: an embedded store and recording directories in `dir`, metrics on
/// `metrics`.
fn common_args(dir: &Path, metrics: SocketAddr) -> Vec<String> {
    let sub = |name: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        path.display().to_string()
    };
    vec![
        format!(
            "--database-url=sqlite:{}",
            dir.join("scalelite.sqlite3").display()
        ),
        format!("--metrics-bind={metrics}"),
        format!("--recording-spool-dir={}", sub("spool")),
        format!("--recording-work-dir={}", sub("work")),
        format!("--recording-publish-dir={}", sub("published")),
        format!("--recording-unpublish-dir={}", sub("unpublished")),
        "--shutdown-grace-period=5".to_owned(),
    ]
}

/// GET `url` until it answers (the service is starting), bounded by [`GUARD`].
async fn get_when_up(url: &str) -> reqwest::Response {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match reqwest::get(url).await {
            Ok(response) => return response,
            Err(e) if tokio::time::Instant::now() > deadline => panic!("{url}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Scrape `/metrics` at `addr` and return the body, checking the OpenMetrics content type.
async fn scrape(addr: SocketAddr) -> String {
    let response = get_when_up(&format!("http://{addr}/metrics")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        scalelite_core::metrics_listener::CONTENT_TYPE
    );
    response.text().await.unwrap()
}

/// Trigger `shutdown` and wait (bounded) for the service to return, which it must do without error.
async fn stop(shutdown: &Shutdown, service: tokio::task::JoinHandle<anyhow::Result<()>>) {
    shutdown.trigger();
    tokio::time::timeout(GUARD, service)
        .await
        .expect("the service returns after shutdown")
        .unwrap()
        .expect("the service ends without error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_runs_all_in_one_from_its_library() {
    crate::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let (http, metrics) = (local(free_port()), local(free_port()));
    let mut args = vec![
        "scalelite-api".to_owned(),
        "--all-in-one".to_owned(),
        format!("--bind={http}"),
    ];
    args.extend(common_args(dir.path(), metrics));
    args.push("--loadbalancer-secret=services-test-secret".to_owned());
    let cli = scalelite_api::service::Cli::try_parse_from(args).unwrap();
    let shutdown = Shutdown::new();
    let service = tokio::spawn(scalelite_api::service::run_until(cli, shutdown.clone()));

    let health = get_when_up(&format!("http://{http}/health_check")).await;
    assert_eq!(health.status(), 200);
    let text = scrape(metrics).await;
    assert!(
        text.contains("scalelite_poller_"),
        "all-in-one reports its poller: {text}"
    );
    assert!(
        text.contains("scalelite_importer_"),
        "and its importer: {text}"
    );
    stop(&shutdown, service).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_runs_from_its_library_with_the_shared_metrics_listener() {
    crate::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let metrics = local(free_port());
    let mut args = vec![
        "scalelite-poller".to_owned(),
        "--poll-interval=1".to_owned(),
    ];
    args.extend(
        common_args(dir.path(), metrics)
            .into_iter()
            .filter(|a| !a.starts_with("--recording")),
    );
    let cli = scalelite_poller::service::Cli::try_parse_from(args).unwrap();
    let shutdown = Shutdown::new();
    let service = tokio::spawn(scalelite_poller::service::run_until(cli, shutdown.clone()));

    let text = scrape(metrics).await;
    assert!(text.contains("scalelite_poller_"), "{text}");
    let other = get_when_up(&format!("http://{metrics}/other")).await;
    assert_eq!(other.status(), 404);
    stop(&shutdown, service).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_importer_runs_from_its_library_with_the_shared_metrics_listener() {
    crate::init_logs();
    let dir = tempfile::tempdir().unwrap();
    let metrics = local(free_port());
    let mut args = vec!["scalelite-recording-importer".to_owned()];
    args.extend(common_args(dir.path(), metrics));
    let cli = scalelite_recording_importer::service::Cli::try_parse_from(args).unwrap();
    let shutdown = Shutdown::new();
    let service = tokio::spawn(scalelite_recording_importer::service::run_until(
        cli,
        shutdown.clone(),
    ));

    let text = scrape(metrics).await;
    assert!(text.contains("scalelite_importer_"), "{text}");
    stop(&shutdown, service).await;
}
