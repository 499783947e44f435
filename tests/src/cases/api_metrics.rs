//! Prometheus metrics at `/metrics` (`docs/compatibility.md#metrics`).

use std::time::Duration;

use fake_bbb::FakeServer;
use scalelite_api::AppState;
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState, ServerStats};
use scalelite_core::storage::ServerStore;
use scalelite_poller::{PollSettings, Poller};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{ImportContext, ImportSettings, import_one};
use tokio_util::sync::CancellationToken;

use crate::harness::*;

async fn scrape(app: &TestApp) -> String {
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

/// The value of the sample line `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    })
}

both_backends! {
    async fn all_in_one_adds_the_pollers_and_importers_metrics(backend: Backend) {
        crate::init_logs();
        let guard = test_store(backend).await;
        let store = guard.store.clone();
        // bbb1 answers; bbb2 refuses connections, so its poll fails.
        let fake = FakeServer::start("bbb1-secret".to_owned()).await.unwrap();
        for (id, url, secret) in [
            ("bbb1", fake.url(), "bbb1-secret"),
            ("bbb2", "http://127.0.0.1:1/bigbluebutton/api/".to_owned(), "bbb2-secret"),
        ] {
            store.add_server(NewServer {
                id: id.into(),
                url,
                secret: Secret::new(secret),
                tag: None,
                state: ServerState::Enabled,
                load_multiplier: 1.0,
            }).await.unwrap();
        }
        let bbb = BbbClient::new(
            Timeouts { connect: Duration::from_secs(2), response: Duration::from_secs(5) },
            Algorithm::Sha256,
        );
        let poller = Poller::new(store.clone(), bbb, PollSettings::default());
        poller.poll_once().await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let importer = ImportContext::new(store.clone(), ImportSettings::under(dir.path()));
        let tar = FixtureRecording::new("m1", 1_700_000_000_000)
            .with_format("presentation")
            .write_tar(&importer.settings().spool_dir)
            .unwrap();
        import_one(&importer, &tar).await.unwrap();

        let state = AppState::new(test_settings(), store.clone())
            .with_poller(poller)
            .with_importer(importer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        let server = tokio::spawn(scalelite_api::serve(
            listener,
            state,
            async move { signal.cancelled().await },
            Duration::from_secs(5),
        ));

        let response = reqwest::get(format!("http://{addr}/metrics")).await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert_eq!(sample(&text, "scalelite_poller_cycles_total"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_cycle_duration_seconds_count"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_servers_polled"), Some(2.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_server_errors_total{server=\"bbb1\"}"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_server_errors_total{server=\"bbb2\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_server_last_poll_failed{server=\"bbb1\"}"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "scalelite_poller_server_last_poll_failed{server=\"bbb2\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_importer_imports_done_total"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_importer_recordings_imported_total"), Some(1.0), "{text}");
        assert!(sample(&text, "scalelite_importer_last_import_timestamp_seconds").is_some(), "{text}");
        // Still the API's own metrics and the pool, and one EOF at the very end.
        assert_eq!(sample(&text, "scalelite_store_up"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_online{server=\"bbb1\"}"), Some(1.0), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1, "{text}");
        assert!(text.ends_with("\n# EOF\n"), "{text}");

        shutdown.cancel();
        server.await.unwrap().unwrap();
        drop(fake);
    }

    async fn requests_are_counted_by_call_and_outcome(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        app.add_server("bbb1").await;
        app.call("create", "meetingID=m1&moderatorPW=mp").await.assert_success();
        app.call("create", "meetingID=m2").await.assert_success();
        app.call("getMeetingInfo", "meetingID=nope").await.assert_failed("notFound");
        let bad = app.http.get(app.url("/bigbluebutton/api/getMeetings?checksum=bad")).send().await.unwrap();
        Xml::from(bad).await.assert_failed("checksumError");
        assert_eq!(app.get("join", "meetingID=m1&fullName=A&password=mp").await.status(), 302);
        let unknown = app.http.get(app.url("/bigbluebutton/api/getDefaultConfigXML")).send().await.unwrap();
        Xml::from(unknown).await.assert_failed("unsupportedRequest");
        app.http.get(app.url("/health_check")).send().await.unwrap();

        let text = scrape(&app).await;
        let count = |call: &str, outcome: &str| {
            sample(&text, &format!("scalelite_api_requests_total{{call=\"{call}\",outcome=\"{outcome}\"}}"))
        };
        assert_eq!(count("create", "SUCCESS"), Some(2.0), "{text}");
        assert_eq!(count("getMeetingInfo", "notFound"), Some(1.0), "{text}");
        assert_eq!(count("getMeetings", "checksumError"), Some(1.0), "{text}");
        assert_eq!(count("join", "SUCCESS"), Some(1.0), "{text}");
        assert_eq!(count("unsupported", "unsupportedRequest"), Some(1.0), "{text}");
        assert_eq!(count("health_check", "SUCCESS"), Some(1.0), "{text}");
        assert_eq!(
            sample(&text, "scalelite_api_request_duration_seconds_count{call=\"create\"}"),
            Some(2.0),
            "{text}"
        );
        assert!(text.contains("scalelite_api_request_duration_seconds_bucket{le=\"+Inf\",call=\"create\"} 2")
            || text.contains("scalelite_api_request_duration_seconds_bucket{call=\"create\",le=\"+Inf\"} 2"), "{text}");
        // Scrapes are not counted.
        assert!(!text.contains("call=\"metrics\""), "{text}");
        // Without a poller or importer in the process, none of their metrics.
        assert!(!text.contains("scalelite_poller_"), "{text}");
        assert!(!text.contains("scalelite_importer_"), "{text}");
        let again = scrape(&app).await;
        assert_eq!(sample(&again, "scalelite_api_requests_total{call=\"create\",outcome=\"SUCCESS\"}"), Some(2.0));
    }

    async fn pool_gauges_come_from_the_store(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        app.add_server_with("bbb1", None, 2.0, 3.0).await;
        app.add_server_with("bbb2", None, 1.0, 0.0).await;
        app.store.patch_server("bbb1", ServerPatch {
            stats: Some(ServerStats { meetings: 4, users: 17, largest_meeting: 9, videos: 2 }),
            ..ServerPatch::default()
        }).await.unwrap();
        app.store.patch_server("bbb2", ServerPatch {
            online: Some(false),
            state: Some(ServerState::Cordoned),
            ..ServerPatch::default()
        }).await.unwrap();

        let text = scrape(&app).await;
        assert_eq!(sample(&text, "scalelite_store_up"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_online{server=\"bbb1\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_online{server=\"bbb2\"}"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_load{server=\"bbb1\"}"), Some(3.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_meetings{server=\"bbb1\"}"), Some(4.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_users{server=\"bbb1\"}"), Some(17.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_largest_meeting{server=\"bbb1\"}"), Some(9.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_state{server=\"bbb2\",state=\"cordoned\"}"), Some(1.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_state{server=\"bbb2\",state=\"enabled\"}"), Some(0.0), "{text}");
        assert_eq!(sample(&text, "scalelite_server_state{server=\"bbb1\",state=\"enabled\"}"), Some(1.0), "{text}");

        // A create bumps the load the next scrape reads.
        app.call("create", "meetingID=m1").await.assert_success();
        let text = scrape(&app).await;
        assert_eq!(sample(&text, "scalelite_server_load{server=\"bbb1\"}"), Some(5.0), "{text}");
    }
}

#[tokio::test]
async fn metrics_are_per_app_and_exempt_from_the_host_allow_list() {
    let mut a =
        TestApp::spawn_with(Backend::Embedded, |s| s.url_host = Some("sl.test".into())).await;
    a.add_server("bbb1").await;
    let b = TestApp::spawn(Backend::Embedded).await;
    let created = a
        .http
        .get(a.signed("create", "meetingID=m1"))
        .header("Host", "sl.test")
        .send()
        .await
        .unwrap();
    Xml::from(created).await.assert_success();
    // Scraped by address (Host 127.0.0.1:port), which the allow-list would refuse for an API call.
    let text_a = scrape(&a).await;
    assert_eq!(
        sample(
            &text_a,
            "scalelite_api_requests_total{call=\"create\",outcome=\"SUCCESS\"}"
        ),
        Some(1.0)
    );
    let text_b = scrape(&b).await;
    assert_eq!(
        sample(
            &text_b,
            "scalelite_api_requests_total{call=\"create\",outcome=\"SUCCESS\"}"
        ),
        None
    );
    let refused = a
        .http
        .get(a.signed("getMeetings", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let text_a = scrape(&a).await;
    assert_eq!(
        sample(
            &text_a,
            "scalelite_api_requests_total{call=\"getMeetings\",outcome=\"403\"}"
        ),
        Some(1.0)
    );
}
