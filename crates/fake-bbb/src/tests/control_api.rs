//! The JSON control API over HTTP, as the binary serves it.

use serde_json::{Value, json};

use super::*;
use crate::FakeBbb;

/// `RequestBuilder::json` needs a reqwest feature the workspace does not enable.
trait JsonBody {
    fn json_body(self, value: &Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, value: &Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }
}

struct Control {
    fake: FakeBbb,
    base: String,
    _server: crate::ControlServer,
}

async fn control() -> Control {
    let fake = FakeBbb::new();
    let server = fake.serve_control(0).await.expect("control server");
    Control {
        base: server.url(),
        fake,
        _server: server,
    }
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("control request");
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON")
    };
    (status, value)
}

/// A signed BBB GET against a server described by the control API.
async fn bbb_call(info: &Value, call: &str, query: &str) -> String {
    let url = info["url"].as_str().expect("url");
    let secret = info["secret"].as_str().expect("secret");
    let sum = sign(Algo::Sha1, call, query, secret);
    let sep = if query.is_empty() { "" } else { "&" };
    get_text(&format!("{url}{call}?{query}{sep}checksum={sum}"))
        .await
        .1
}

#[tokio::test]
async fn servers_can_be_added_listed_and_removed() {
    let c = control().await;
    let http = client();
    let (status, info) = send(
        http.post(format!("{}/servers", c.base))
            .json_body(&json!({"secret": "s-1"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{info}");
    assert_eq!(info["id"], 1);
    assert_eq!(info["secret"], "s-1");
    let port = info["port"].as_u64().expect("port");
    assert_eq!(
        info["url"],
        format!("http://127.0.0.1:{port}/bigbluebutton/api/")
    );
    assert_eq!(info["listening"], true);
    assert_eq!(info["fault"]["mode"], "normal");
    assert_eq!(
        returncode(&bbb_call(&info, "getMeetings", "").await),
        "SUCCESS"
    );

    // An empty body gives the development secret.
    let (status, second) = send(http.post(format!("{}/servers", c.base))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["id"], 2);
    assert_eq!(second["secret"], crate::DEV_SECRET);

    // The same port twice is a conflict.
    let (status, error) = send(
        http.post(format!("{}/servers", c.base))
            .json_body(&json!({"port": port})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    assert!(error["error"].as_str().expect("message").contains("bind"));

    let (status, list) = send(http.get(format!("{}/servers", c.base))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().expect("array").len(), 2);
    assert_eq!(c.fake.servers().len(), 2);

    let (status, _) = send(http.delete(format!("{}/servers/1", c.base))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let url = info["url"].as_str().expect("url").to_owned();
    assert!(
        http.get(&url)
            .send()
            .await
            .expect_err("removed server is closed")
            .is_connect()
    );
    let (status, error) = send(http.delete(format!("{}/servers/1", c.base))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"], "no server with id 1");
    let (status, _) = send(http.get(format!("{}/servers/1/meetings", c.base))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn meetings_can_be_seeded_listed_and_deleted() {
    let c = control().await;
    let http = client();
    let (_, info) = send(
        http.post(format!("{}/servers", c.base))
            .json_body(&json!({"secret": "s"})),
    )
    .await;
    let meetings = format!("{}/servers/{}/meetings", c.base, info["id"]);

    let seed = json!({
        "meeting_id": "room/1",
        "name": "Room",
        "participant_count": 7,
        "moderator_count": 2,
        "video_count": 3,
        "is_breakout": true,
        "create_time_ms": 1_700_000_000_000u64,
        "metadata": {"tenant-id": "t1", "bbb-origin": "x"}
    });
    let (status, created) = send(http.post(&meetings).json_body(&seed)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["participant_count"], 7);
    let (status, _) = send(
        http.post(&meetings)
            .json_body(&json!({"meeting_id": "pairs", "metadata": [["k", "v"]]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = send(
        http.post(&meetings)
            .json_body(&json!({"meeting_id": "bad", "moderator_count": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");

    let body = bbb_call(&info, "getMeetings", "").await;
    let listed = blocks(&body, "meeting");
    assert_eq!(listed.len(), 2, "{body}");
    assert_eq!(tag(&listed[0], "participantCount").as_deref(), Some("7"));
    assert_eq!(tag(&listed[0], "moderatorCount").as_deref(), Some("2"));
    assert_eq!(tag(&listed[0], "videoCount").as_deref(), Some("3"));
    assert_eq!(tag(&listed[0], "isBreakout").as_deref(), Some("true"));
    assert_eq!(tag(&listed[0], "tenant-id").as_deref(), Some("t1"));
    assert_eq!(tag(&listed[1], "k").as_deref(), Some("v"));

    let (status, list) = send(http.get(&meetings)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["meeting_id"], "room/1");
    assert_eq!(
        list[0]["metadata"],
        json!([["bbb-origin", "x"], ["tenant-id", "t1"]])
    );
    let (status, one) = send(http.get(format!("{meetings}/room%2F1"))).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["video_count"], 3);

    let (status, _) = send(http.delete(format!("{meetings}/room%2F1"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(http.delete(format!("{meetings}/room%2F1"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(http.delete(&meetings)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        message_key(&bbb_call(&info, "getMeetings", "").await),
        "noMeetings"
    );
}

#[tokio::test]
async fn faults_are_set_over_http_and_control_answers_while_a_server_hangs() {
    let c = control().await;
    let http = client();
    let (_, info) = send(
        http.post(format!("{}/servers", c.base))
            .json_body(&json!({"secret": "s"})),
    )
    .await;
    let fault_url = format!("{}/servers/{}/fault", c.base, info["id"]);
    let bbb_url = {
        let sum = sign(Algo::Sha256, "getMeetings", "", "s");
        format!(
            "{}getMeetings?checksum={sum}",
            info["url"].as_str().expect("url")
        )
    };

    let (status, fault) = send(http.put(&fault_url).json_body(&json!({"mode": "hang"}))).await;
    assert_eq!(status, StatusCode::OK, "{fault}");
    assert_eq!(fault["mode"], "hang");
    let hung = tokio::spawn({
        let bbb_url = bbb_url.clone();
        async move {
            client_with_timeout(Duration::from_millis(500))
                .get(&bbb_url)
                .send()
                .await
        }
    });
    // While that request hangs, the control API keeps answering.
    let (status, list) = send(http.get(format!("{}/servers", c.base))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["fault"]["mode"], "hang");
    assert!(hung.await.expect("join").expect_err("hangs").is_timeout());

    let (status, fault) = send(
        http.put(&fault_url)
            .json_body(&json!({"mode": "delay", "delay_ms": 20})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fault, json!({"mode": "delay", "delay_ms": 20}));
    assert_eq!(get_text(&bbb_url).await.0, StatusCode::OK);

    let (status, _) = send(http.put(&fault_url).json_body(&json!({"mode": "refuse"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        http.get(&bbb_url)
            .send()
            .await
            .expect_err("refused")
            .is_connect()
    );
    let (_, server) = send(http.get(format!("{}/servers/{}", c.base, info["id"]))).await;
    assert_eq!(server["listening"], false);

    let failed = json!({"mode": "failed", "message_key": "oops", "message": "Broken"});
    let (status, fault) = send(http.put(&fault_url).json_body(&failed)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fault, failed);
    let body = get_text(&bbb_url).await.1;
    assert_eq!(message_key(&body), "oops");

    for bad in [
        json!({"mode": "delay"}),
        json!({"mode": "failed"}),
        json!({"mode": "explode"}),
    ] {
        let (status, error) = send(http.put(&fault_url).json_body(&bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
    }
    let (status, fault) = send(http.put(&fault_url).json_body(&json!({"mode": "normal"}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(send(http.get(&fault_url)).await.1, fault);
    assert_eq!(returncode(&get_text(&bbb_url).await.1), "SUCCESS");
}

#[tokio::test]
async fn request_log_is_read_and_cleared_over_http() {
    let c = control().await;
    let http = client();
    let (_, info) = send(
        http.post(format!("{}/servers", c.base))
            .json_body(&json!({"secret": "s"})),
    )
    .await;
    let requests = format!("{}/servers/{}/requests", c.base, info["id"]);

    bbb_call(&info, "create", "meetingID=m&name=N").await;
    bbb_call(&info, "getMeetings", "").await;
    let (status, log) = send(http.get(&requests)).await;
    assert_eq!(status, StatusCode::OK);
    let log = log.as_array().expect("array").clone();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["method"], "GET");
    assert_eq!(log[0]["call"], "create");
    assert_eq!(log[0]["checksum_ok"], true);
    assert!(
        log[0]["query"]
            .as_str()
            .expect("query")
            .starts_with("meetingID=m&name=N&checksum=")
    );
    assert_eq!(log[0]["params"][1], json!(["name", "N"]));
    assert_eq!(log[1]["call"], "getMeetings");
    assert!(log[1]["timestamp_ms"].as_u64().expect("timestamp") > 0);

    let (status, _) = send(http.delete(&requests)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(send(http.get(&requests)).await.1, json!([]));
    // The meeting made by create is visible over the control API as well.
    let (_, meetings) = send(http.get(format!("{}/servers/{}/meetings", c.base, info["id"]))).await;
    assert_eq!(
        meetings[0]["create_params"],
        json!([["meetingID", "m"], ["name", "N"]])
    );
}
