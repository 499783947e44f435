//! Recording-ready callbacks (`docs/compatibility.md#callbacks-recording-ready`): a signed POST to the URL captured at
//! create, after the import, from a background task that a failing receiver never holds up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use scalelite_core::bbb::checksum::AllowedAlgorithms;
use scalelite_core::domain::{CallbackData, Secret, Tenant};
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::shutdown::Shutdown;
use scalelite_core::storage::{RecordingStore, TenantStore};
use scalelite_recording_importer::fixture::FixtureRecording;
use scalelite_recording_importer::{CallbackSettings, ImportContext, jwt_algorithm};
use serde_json::{Value, json};

use super::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    content_type: String,
    /// The `signed_parameters` value.
    token: String,
}

type Answer = Arc<dyn Fn(usize) -> u16 + Send + Sync>;

#[derive(Clone)]
struct ReceiverState {
    hits: Arc<Mutex<Vec<Hit>>>,
    answer: Answer,
    /// How long the first request waits for its answer (recorded on arrival).
    first_answer_after: Duration,
}

/// A callback receiver on a random port answering the n-th request (from 0) with `answer(n)`.
struct Receiver {
    url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    _server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
        Self::start_slow(Duration::ZERO, answer).await
    }

    /// [`Receiver::start`], answering the first request only after `first_answer_after`.
    async fn start_slow(
        first_answer_after: Duration,
        answer: impl Fn(usize) -> u16 + Send + Sync + 'static,
    ) -> Receiver {
        async fn handle(
            State(state): State<ReceiverState>,
            headers: HeaderMap,
            body: String,
        ) -> StatusCode {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            // JWTs are URL-safe: the form body is exactly `signed_parameters=<token>`.
            let token = body
                .strip_prefix("signed_parameters=")
                .unwrap_or("<malformed body>")
                .to_owned();
            let n = {
                let mut hits = state.hits.lock().unwrap();
                hits.push(Hit {
                    content_type,
                    token,
                });
                hits.len() - 1
            };
            if n == 0 {
                tokio::time::sleep(state.first_answer_after).await;
            }
            StatusCode::from_u16((state.answer)(n)).unwrap()
        }
        let hits = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            hits: hits.clone(),
            answer: Arc::new(answer),
            first_answer_after,
        };
        let app = axum::Router::new()
            .route("/recording-ready", axum::routing::post(handle))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/recording-ready?src=greenlight"),
            hits,
            _server: server,
        }
    }

    fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Hit> {
        eventually(&format!("{count} callback requests"), || async {
            self.hits().len() >= count
        })
        .await;
        self.hits()
    }
}

fn settings(secrets: &[&str]) -> CallbackSettings {
    CallbackSettings {
        lb_secrets: secrets.iter().map(|s| Secret::new(*s)).collect(),
        multitenancy: false,
        algorithm: JwtAlgorithm::Hs256,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retry_delays: vec![Duration::from_millis(20), Duration::from_millis(20)],
        concurrency: 1,
    }
}

async fn want_callback(env: &Env, meeting_id: &str, url: &str) {
    env.store
        .put_callback_data(CallbackData {
            meeting_id: meeting_id.into(),
            recording_id: None,
            recording_ready_url: Some(url.into()),
            analytics_callback_url: None,
            ..CallbackData::default()
        })
        .await
        .unwrap();
}

fn claims(token: &str, secret: &str, algorithm: JwtAlgorithm) -> Option<Value> {
    jwt::decode::<Value>(token, secret.as_bytes(), algorithm, 0).ok()
}

both_backends! {
    async fn callback_is_sent_with_a_valid_jwt_trying_secrets_in_order(backend: Backend) {
        let env = Env::new(backend).await;
        // The first secret is refused (401), the second accepted.
        let receiver = Receiver::start(|n| if n == 0 { 401 } else { 200 }).await;
        want_callback(&env, "room-cb", &receiver.url).await;
        let shutdown = Shutdown::new();
        let ctx = env.ctx.clone().with_callbacks(settings(&["lb-one", "lb-two", "lb-three"]), &shutdown);

        // A meeting without callback data first: nothing is sent for it (the queue is FIFO with one in flight).
        let silent = FixtureRecording::new("room-silent", 1_700_000_000_000).with_format("podcast");
        let recording = FixtureRecording::new("room-cb", 1_700_000_000_000).with_format("presentation");
        for r in [&silent, &recording] {
            let tar = r.write_tar(&env.spool()).unwrap();
            assert!(matches!(
                scalelite_recording_importer::import_one(&ctx, &tar).await.unwrap(),
                scalelite_recording_importer::ImportOutcome::Imported(_)
            ));
        }

        let hits = receiver.wait_for(2).await;
        eventually("the callback counted as sent", || async { ctx.metrics().callbacks_sent == 1 }).await;
        assert_eq!(hits.len(), 2, "stops at the first 2xx");
        let expected = json!({"meeting_id": "room-cb", "record_id": recording.record_id});
        for hit in &hits {
            assert_eq!(hit.content_type, "application/x-www-form-urlencoded");
            // The payload is exactly the two claims, no exp/iat.
            let payload = hit.token.split('.').nth(1).unwrap();
            let decoded: Value = serde_json::from_slice(&base64_url(payload)).unwrap();
            assert_eq!(decoded, expected);
        }
        assert_eq!(claims(&hits[0].token, "lb-one", JwtAlgorithm::Hs256), Some(expected.clone()));
        assert_eq!(claims(&hits[1].token, "lb-two", JwtAlgorithm::Hs256), Some(expected.clone()));
        assert_eq!(claims(&hits[1].token, "lb-one", JwtAlgorithm::Hs256), None);
        let header: Value = serde_json::from_slice(&base64_url(hits[0].token.split('.').next().unwrap())).unwrap();
        assert_eq!(header["alg"], "HS256");
        assert_eq!(ctx.metrics().callbacks_failed, 0);
        // The callback data is still there.
        assert!(env.store.get_callback_data(None, "room-cb").await.unwrap().is_some());
        shutdown.trigger();
        assert!(shutdown.drain(Duration::from_secs(10)).await);
    }

    async fn tenant_secrets_and_hs512(backend: Backend) {
        let env = Env::new(backend).await;
        env.store
            .add_tenant(Tenant {
                id: "tenant-uuid-1".into(),
                name: "school".into(),
                secrets: vec![Secret::new("tenant-first"), Secret::new("tenant-second")],
                ..Tenant::default()
            })
            .await
            .unwrap();
        let receiver = Receiver::start(|_| 200).await;
        env.store
            .put_callback_data(CallbackData {
                meeting_id: "room-mt".into(),
                tenant_id: Some("tenant-uuid-1".into()),
                recording_ready_url: Some(receiver.url.clone()),
                ..CallbackData::default()
            })
            .await
            .unwrap();
        // The same meetingID without the tenant (another tenant's, or none) is never notified.
        let other = Receiver::start(|_| 200).await;
        want_callback(&env, "room-mt", &other.url).await;
        let mut callback_settings = settings(&["lb-secret"]);
        callback_settings.multitenancy = true;
        callback_settings.algorithm = jwt_algorithm(&AllowedAlgorithms::parse(Some("SHA1:SHA512")).unwrap());
        assert_eq!(callback_settings.algorithm, JwtAlgorithm::Hs512);
        let shutdown = Shutdown::new();
        let ctx = env.ctx.clone().with_callbacks(callback_settings, &shutdown);

        let mut recording = FixtureRecording::new("room-mt", 1_700_000_000_000).with_format("presentation");
        recording.meta.push(("tenant-id".into(), "tenant-uuid-1".into()));
        scalelite_recording_importer::import_one(&ctx, &recording.write_tar(&env.spool()).unwrap()).await.unwrap();
        let hits = receiver.wait_for(1).await;
        let expected = json!({"meeting_id": "room-mt", "record_id": recording.record_id});
        assert_eq!(claims(&hits[0].token, "tenant-first", JwtAlgorithm::Hs512), Some(expected));
        assert_eq!(claims(&hits[0].token, "lb-secret", JwtAlgorithm::Hs512), None);
        shutdown.trigger();
        assert!(shutdown.drain(Duration::from_secs(10)).await);
        assert_eq!(receiver.hits().len(), 1);
        assert!(other.hits().is_empty());
    }

    async fn a_failing_receiver_does_not_stop_imports(backend: Backend) {
        let env = Env::new(backend).await;
        let failing = Receiver::start(|_| 500).await;
        let gone = Receiver::start(|_| 404).await;
        // A receiver that is not there at all (connection refused).
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/callback", listener.local_addr().unwrap())
        };
        want_callback(&env, "room-500", &failing.url).await;
        want_callback(&env, "room-404", &gone.url).await;
        want_callback(&env, "room-closed", &closed).await;
        let shutdown = Shutdown::new();
        let ctx = env.ctx.clone().with_callbacks(settings(&["lb-one"]), &shutdown);

        let mut imported = Vec::new();
        for (n, meeting) in ["room-500", "room-404", "room-closed", "room-500"].iter().enumerate() {
            let recording = FixtureRecording::new(meeting, 1_700_000_000_000 + n as i64).with_format("podcast");
            let tar = recording.write_tar(&env.spool()).unwrap();
            let outcome = scalelite_recording_importer::import_one(&ctx, &tar).await.unwrap();
            assert!(matches!(outcome, scalelite_recording_importer::ImportOutcome::Imported(_)));
            imported.push(recording.record_id);
        }
        for id in &imported {
            assert!(env.store.get_recording(id).await.is_ok());
        }
        assert_eq!(ctx.metrics().imports_done, 4);

        // 500: one attempt plus two retries, for each of the two recordings; 404: once, final.
        eventually("callbacks settled", || async {
            let m = ctx.metrics();
            m.callbacks_failed == 3 && m.callbacks_sent == 1
        })
        .await;
        assert_eq!(failing.hits().len(), 6);
        assert_eq!(gone.hits().len(), 1);
        shutdown.trigger();
        assert!(shutdown.drain(Duration::from_secs(10)).await);
    }
}

/// A callback whose first attempt is answered 503 (`first_answer_after` after it arrived), its retry an hour away;
/// shutdown begins once the first request has arrived. The last attempt at shutdown must reach the receiver.
async fn last_attempt_at_shutdown(meeting: &str, first_answer_after: Duration) {
    let env = Env::new(Backend::Embedded).await;
    let receiver =
        Receiver::start_slow(first_answer_after, |n| if n == 0 { 503 } else { 200 }).await;
    want_callback(&env, meeting, &receiver.url).await;
    let mut callback_settings = settings(&["lb-one"]);
    callback_settings.retry_delays = vec![Duration::from_secs(3600)];
    let shutdown = Shutdown::new();
    let ctx: ImportContext = env.ctx.clone().with_callbacks(callback_settings, &shutdown);
    let recording = FixtureRecording::new(meeting, 1_700_000_000_000).with_format("video");
    scalelite_recording_importer::import_one(&ctx, &recording.write_tar(&env.spool()).unwrap())
        .await
        .unwrap();
    receiver.wait_for(1).await;
    assert_eq!(ctx.metrics().callbacks_sent, 0);
    shutdown.trigger();
    assert!(shutdown.drain(Duration::from_secs(10)).await);
    assert_eq!(
        receiver.hits().len(),
        2,
        "the failed attempt was followed by the last one"
    );
    assert_eq!(ctx.metrics().callbacks_sent, 1);
}

/// The retry is an hour away; shutdown sends it now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_waiting_callbacks_a_last_attempt() {
    last_attempt_at_shutdown("room-late", Duration::ZERO).await;
}

/// An attempt still in flight when shutdown begins, failing after it began, gets the last attempt as a callback
/// waiting for its retry does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_gives_an_attempt_failing_meanwhile_a_last_attempt() {
    // The first request is answered a second after it arrived: shutdown begins in between.
    last_attempt_at_shutdown("room-slow", Duration::from_secs(1)).await;
}

fn base64_url(part: &str) -> Vec<u8> {
    // A tiny decoder so the test does not share the core's JWT code for reading the payload.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for byte in part.bytes() {
        let value = ALPHABET.iter().position(|&c| c == byte).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}
