//! Configuration contract: MEETING_FAILOVER observed from outside the real binary.

#[path = "reliability_support/mod.rs"]
mod support;

use scalelite_core::domain::ServerPatch;
use scalelite_core::storage::ServerStore;
use scalelite_testkit::{Backend, test_store};

use support::{add_fake, api, client, get, signed, tag};

/// MEETING_FAILOVER (default true): a join for a meeting whose server went offline re-creates it on another server
/// and redirects there; with false the join answers FAILED serverUnavailable and nothing is created elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contract_meeting_failover() {
    for failover in [false, true] {
        let store = test_store(Backend::Embedded).await;
        let a = add_fake(&store.store, "a", 0.0).await;
        let b = add_fake(&store.store, "b", 5.0).await;
        let mut env = store.env().to_vec();
        if !failover {
            env.push(("MEETING_FAILOVER".into(), "false".into()));
        }
        let service = api(&env).await;
        let http = client();
        let (_, body) = get(
            &http,
            &signed(
                &service,
                "create",
                "meetingID=c-1&name=C&attendeePW=ap&moderatorPW=mp",
            ),
        )
        .await;
        assert_eq!(tag(&body, "returncode"), Some("SUCCESS"), "{body}");
        assert!(a.meeting("c-1").is_some());
        store
            .store
            .patch_server(
                "a",
                ServerPatch {
                    online: Some(false),
                    load: Some(None),
                    ..ServerPatch::default()
                },
            )
            .await
            .unwrap();
        let response = http
            .get(signed(
                &service,
                "join",
                "meetingID=c-1&fullName=U&password=ap",
            ))
            .send()
            .await
            .unwrap();
        if failover {
            assert_eq!(response.status().as_u16(), 302);
            let location = response.headers()["location"].to_str().unwrap();
            assert!(location.starts_with(&b.url()), "{location}");
            assert!(b.meeting("c-1").is_some());
        } else {
            let body = response.text().await.unwrap();
            assert_eq!(
                tag(&body, "messageKey"),
                Some("serverUnavailable"),
                "{body}"
            );
            assert!(b.meeting("c-1").is_none());
        }
    }
}
