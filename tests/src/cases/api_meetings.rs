//! The meeting calls through the balancer (`docs/compatibility.md#api-meetings`).

use fake_bbb::Fault;
use scalelite_core::domain::{ServerPatch, ServerState};
use scalelite_core::storage::{MeetingStore, RecordingStore, ServerStore};

use crate::harness::*;

/// The parameters a fake server received for its last `call`.
fn last_params(fake: &fake_bbb::FakeServer, call: &str) -> Vec<(String, String)> {
    let request = fake.requests().into_iter().rev().find(|r| r.call == call);
    let params = request.map(|r| r.params).unwrap_or_default();
    params
        .into_iter()
        .filter(|(k, _)| k != "checksum")
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

both_backends! {
    async fn full_meeting_life_cycle(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let a = app.add_server_with("bbb-a", None, 1.0, 5.0).await;
        let b = app.add_server_with("bbb-b", None, 1.0, 1.0).await;
        let c = app.add_server_with("bbb-c", None, 1.0, 3.0).await;

        // create lands on the least-loaded server, b.
        let created = app.call("create", "meetingID=life&name=Life+%C3%BC&attendeePW=ap&moderatorPW=mp").await;
        created.assert_success();
        assert_eq!(created.get("meetingID").as_deref(), Some("life"));
        assert_eq!(b.meetings().len(), 1);
        assert!(a.meetings().is_empty() && c.meetings().is_empty());
        assert_eq!(b.meeting("life").unwrap().name, "Life ü");
        assert_eq!(app.load("bbb-b").await, Some(2.0));
        assert!(b.requests().iter().all(|r| r.checksum_ok != Some(false)));

        // join redirects to b with a checksum b itself accepts.
        let response = app.get("join", "meetingID=life&fullName=Ann+%C3%BC&password=mp").await;
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&b.url()), "{location}");
        let followed = app.http.get(&location).send().await.unwrap();
        assert_eq!(followed.status(), 302, "the fake server accepted the redirect");
        assert_eq!(b.meeting("life").unwrap().participant_count, 1);
        app.wait_for_load("bbb-b", 3.0).await;

        let info = app.call("getMeetingInfo", "meetingID=life").await;
        info.assert_success();
        assert_eq!(info.get("meetingName").as_deref(), Some("Life ü"));
        let running = app.call("isMeetingRunning", "meetingID=life").await;
        assert_eq!(running.get("running").as_deref(), Some("true"));

        // getMeetings gathers every server's meetings.
        a.seed_meeting(seed("other", 3, 1)).unwrap();
        let all = app.call("getMeetings", "").await;
        all.assert_success();
        let ids: Vec<String> =
            all.root.find_all("meetings/meeting").iter().filter_map(|m| m.child_text("meetingID")).collect();
        assert!(ids.contains(&"life".to_owned()) && ids.contains(&"other".to_owned()), "{ids:?}");

        let ended = app.call("end", "meetingID=life&password=mp").await;
        ended.assert_success();
        assert_eq!(ended.message_key(), "sentEndMeetingRequest");
        assert!(b.meeting("life").is_none());
        assert!(app.store.get_meeting("life").await.is_err());
        app.call("getMeetingInfo", "meetingID=life").await.assert_failed("notFound");
    }

    async fn create_without_servers_or_meeting_id(backend: Backend) {
        let app = TestApp::spawn(backend).await;
        let xml = app.call("create", "name=x").await;
        assert_eq!(xml.assert_failed("missingParamMeetingID"), "You must specify a meeting ID for the meeting.");
        let xml = app.call("create", "meetingID=%20%20").await;
        xml.assert_failed("missingParamMeetingID");
        let xml = app.call("create", "meetingID=m").await;
        assert_eq!(xml.assert_failed("internalError"), "Could not find any available servers.");
    }

    async fn create_forwards_exact_parameters_and_bumps_load(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server_with("bbb1", None, 7.0, 0.0).await;
        app.call("create", "meetingID=m1").await.assert_success();
        let params = last_params(&fake, "create");
        let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["meetingID", "moderatorPW", "voiceBridge"]);
        let vb = param(&params, "voiceBridge").unwrap();
        assert_eq!(vb.len(), 9);
        assert!(vb.starts_with(|c: char| ('1'..='9').contains(&c)) && vb.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(app.load("bbb1").await, Some(7.0));
        let meeting = app.store.get_meeting("m1").await.unwrap();
        assert_eq!(meeting.server_id, "bbb1");
        assert_eq!(meeting.voice_bridge, vb);
        // A repeated create goes to the same server, keeps the voice bridge and does not bump the load.
        app.call("create", "meetingID=m1").await.assert_success();
        assert_eq!(param(&last_params(&fake, "create"), "voiceBridge"), Some(vb));
        assert_eq!(app.load("bbb1").await, Some(7.0));
    }

    async fn create_tags(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let wrong = app.add_server_with("wrong", Some("wrong-tag"), 1.0, 0.0).await;
        let untagged = app.add_server_with("untagged", None, 1.0, 1.0).await;
        // Required tag, no match.
        let xml = app.call("create", "meetingID=t0&meta_server-tag=test-tag%21").await;
        assert_eq!(xml.assert_failed("serverTagUnavailable"), "There is no available server with the required tag=test-tag.");
        // Optional tag, no match: the untagged server, tag not forwarded.
        app.call("create", "meetingID=t1&meta_server-tag=test-tag").await.assert_success();
        assert_eq!(untagged.meetings().len(), 1);
        assert!(wrong.meetings().is_empty());
        assert_eq!(param(&last_params(&untagged, "create"), "meta_server-tag"), None);
        assert_eq!(app.load("untagged").await, Some(2.0));
        // Required tag with a match: forwarded as the server's tag.
        let tagged = app.add_server_with("tagged", Some("test-tag"), 1.0, 1.0).await;
        app.call("create", "meetingID=t2&meta_server-tag=test-tag%21").await.assert_success();
        assert_eq!(param(&last_params(&tagged, "create"), "meta_server-tag"), Some("test-tag"));
        assert_eq!(app.load("tagged").await, Some(2.0));
    }

    async fn join_rules(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server_with("bbb1", None, 7.0, 0.0).await;
        app.call("join", "fullName=x").await.assert_failed("missingParamMeetingID");
        app.call("join", "meetingID=nope&fullName=x").await.assert_failed("notFound");
        app.call("create", "meetingID=j").await.assert_success();
        let response = app.get("join", "meetingID=j&password=pw&fullName=Bob").await;
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let expected_query = "meetingID=j&password=pw&fullName=Bob";
        let checksum = sha256_hex(&format!("join{expected_query}bbb1-secret"));
        assert_eq!(location, format!("{}join?{expected_query}&checksum={checksum}", fake.url()));
        // The join's bump is written behind the redirect.
        app.wait_for_load("bbb1", 14.0).await;
        // An offline or disabled server: serverUnavailable.
        app.store.patch_server("bbb1", ServerPatch { online: Some(false), ..Default::default() }).await.unwrap();
        let xml = app.call("join", "meetingID=j&password=pw&fullName=Bob").await;
        assert_eq!(xml.assert_failed("serverUnavailable"), "The server for this meeting is disabled/offline.");
        app.store
            .patch_server("bbb1", ServerPatch { online: Some(true), state: Some(ServerState::Disabled), ..Default::default() })
            .await
            .unwrap();
        app.call("join", "meetingID=j&password=pw&fullName=Bob").await.assert_failed("serverUnavailable");
    }

    async fn get_meeting_info_and_is_meeting_running(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server("bbb1").await;
        app.call("getMeetingInfo", "").await.assert_failed("missingParamMeetingID");
        let xml = app.call("getMeetingInfo", "meetingID=unknown").await;
        assert_eq!(
            xml.assert_failed("notFound"),
            "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?"
        );
        let xml = app.call("isMeetingRunning", "meetingID=unknown").await;
        xml.assert_success();
        assert_eq!(xml.get("running").as_deref(), Some("false"));
        app.call("create", "meetingID=i").await.assert_success();
        fake.clear_requests();
        let xml = app.call("getMeetingInfo", "meetingID=i&password=secret-ish").await;
        xml.assert_success();
        // Only meetingID is forwarded.
        let forwarded = last_params(&fake, "getMeetingInfo");
        assert_eq!(forwarded, vec![("meetingID".to_owned(), "i".to_owned())]);
    }

    // No answer is no confirmation: the meeting stays mapped (the poller forgets it once its server stops
    // reporting it), so the next create cannot place a still running meeting elsewhere.
    async fn end_keeps_the_meeting_when_bbb_times_out(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server("bbb1").await;
        app.call("end", "").await.assert_failed("missingParamMeetingID");
        app.call("end", "meetingID=nope&password=x").await.assert_failed("notFound");
        app.call("create", "meetingID=e").await.assert_success();
        fake.set_fault(Fault::Hang).await.unwrap();
        let xml = app.call("end", "meetingID=e&password=x").await;
        assert_eq!(xml.assert_failed("internalError"), "Unable to access meeting on server.");
        assert_eq!(app.store.get_meeting("e").await.unwrap().server_id, "bbb1");
    }

    async fn create_fails_over_to_the_next_server_and_rolls_back(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let dead = app.add_server_with("dead", None, 1.0, 0.0).await;
        let alive = app.add_server_with("alive", None, 1.0, 5.0).await;
        dead.set_fault(Fault::Refuse).await.unwrap();
        app.call("create", "meetingID=f").await.assert_success();
        assert_eq!(alive.meetings().len(), 1);
        assert_eq!(app.store.get_meeting("f").await.unwrap().server_id, "alive");
        assert_eq!(app.load("dead").await, Some(0.0), "the failed server's bump was rolled back");
        assert_eq!(app.load("alive").await, Some(6.0));
    }

    async fn create_answers_the_original_errors_when_every_server_fails(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server("only").await;
        for (fault, message) in [
            (Fault::Hang, "Unable to create meeting on server."),
            (Fault::Http500, "Response did not include returncode"),
            (Fault::Html, "Response did not include returncode"),
            (Fault::Garbage, "Response did not include returncode"),
        ] {
            fake.set_fault(fault.clone()).await.unwrap();
            let xml = app.call("create", "meetingID=x").await;
            assert_eq!(xml.assert_failed("internalError"), message, "{fault:?}");
            assert!(app.store.get_meeting("x").await.is_err(), "{fault:?}: rolled back");
            assert_eq!(app.load("only").await, Some(0.0), "{fault:?}: load rolled back");
        }
        fake.set_fault(Fault::Failed("someKey".into(), "Some message".into())).await.unwrap();
        let xml = app.call("create", "meetingID=x").await;
        assert_eq!(xml.assert_failed("someKey"), "Some message");
    }

    async fn create_answers_the_original_error_when_no_voice_bridge_is_free(backend: Backend) {
        // One digit: nine numbers, each new meeting tries all of them.
        let mut app = TestApp::spawn_with(backend, |s| s.voice_bridge_len = 1).await;
        let fake = app.add_server("only").await;
        for i in 1..=9 {
            app.call("create", &format!("meetingID=m{i}")).await.assert_success();
        }
        assert_eq!(app.load("only").await, Some(9.0));
        let xml = app.call("create", "meetingID=m10").await;
        assert_eq!(
            xml.assert_failed("internalError"),
            "Failed to allocate conference number for meeting m10 after 10 tries"
        );
        assert!(app.store.get_meeting("m10").await.is_err(), "no record");
        assert_eq!(app.load("only").await, Some(9.0), "the pick's bump given back");
        assert_eq!(fake.meetings().len(), 9, "no create sent");
    }

    async fn meeting_on_an_offline_server_is_placed_again(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let first = app.add_server_with("first", None, 1.0, 0.0).await;
        let second = app.add_server_with("second", None, 1.0, 10.0).await;
        app.call("create", "meetingID=p").await.assert_success();
        assert_eq!(first.meetings().len(), 1);
        app.store.patch_server("first", ServerPatch { online: Some(false), load: Some(None), ..Default::default() }).await.unwrap();
        app.call("create", "meetingID=p").await.assert_success();
        assert_eq!(second.meetings().len(), 1);
        assert_eq!(app.store.get_meeting("p").await.unwrap().server_id, "second");
        // A removed server too.
        app.store.delete_server("second").await.unwrap();
        app.store.patch_server("first", ServerPatch { online: Some(true), load: Some(Some(0.0)), ..Default::default() }).await.unwrap();
        app.call("create", "meetingID=p").await.assert_success();
        assert_eq!(app.store.get_meeting("p").await.unwrap().server_id, "first");
    }

    async fn cordoned_server_keeps_running_meetings_only(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let cordoned = app.add_server_with("cordoned", None, 1.0, 0.0).await;
        let enabled = app.add_server_with("enabled", None, 1.0, 5.0).await;
        app.call("create", "meetingID=running").await.assert_success();
        app.call("create", "meetingID=idle").await.assert_success();
        assert_eq!(cordoned.meetings().len(), 2);
        let created = cordoned.meeting("running").unwrap();
        cordoned
            .seed_meeting(fake_bbb::SeedMeeting {
                attendee_pw: Some(created.attendee_pw),
                moderator_pw: Some(created.moderator_pw),
                voice_bridge: Some(created.voice_bridge),
                ..seed("running", 3, 1)
            })
            .unwrap();
        app.store.patch_server("cordoned", ServerPatch { state: Some(ServerState::Cordoned), ..Default::default() }).await.unwrap();
        app.call("create", "meetingID=running").await.assert_success();
        assert_eq!(app.store.get_meeting("running").await.unwrap().server_id, "cordoned");
        app.call("create", "meetingID=idle").await.assert_success();
        assert_eq!(app.store.get_meeting("idle").await.unwrap().server_id, "enabled");
        assert!(enabled.meeting("idle").is_some());
    }

    async fn get_meetings_leaves_out_failing_and_unavailable_servers(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let ok = app.add_server("ok").await;
        let hung = app.add_server("hung").await;
        let offline = app.add_server("offline").await;
        let disabled = app.add_server("disabled").await;
        ok.seed_meeting(seed("m-ok", 1, 1)).unwrap();
        hung.seed_meeting(seed("m-hung", 1, 1)).unwrap();
        offline.seed_meeting(seed("m-offline", 1, 1)).unwrap();
        disabled.seed_meeting(seed("m-disabled", 1, 1)).unwrap();
        hung.set_fault(Fault::Hang).await.unwrap();
        app.store.patch_server("offline", ServerPatch { online: Some(false), ..Default::default() }).await.unwrap();
        app.store.patch_server("disabled", ServerPatch { state: Some(ServerState::Disabled), ..Default::default() }).await.unwrap();
        let xml = app.call("getMeetings", "").await;
        xml.assert_success();
        let ids: Vec<String> =
            xml.root.find_all("meetings/meeting").iter().filter_map(|m| m.child_text("meetingID")).collect();
        assert_eq!(ids, ["m-ok"]);
        assert!(offline.requests().iter().all(|r| r.call != "getMeetings"));
        assert!(disabled.requests().iter().all(|r| r.call != "getMeetings"));
    }

    async fn callbacks_are_captured_and_rewritten(backend: Backend) {
        let mut app = TestApp::spawn_with(backend, |s| s.url_host = None).await;
        let fake = app.add_server("bbb1").await;
        let query = "meetingID=cb&meta_bn-recording-ready-url=https%3A%2F%2Fa.example%2Fready\
                     &meta_analytics-callback-url=https%3A%2F%2Fa.example%2Fanalytics";
        app.call("create", query).await.assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "meta_bn-recording-ready-url"), None);
        assert_eq!(
            param(&params, "meta_analytics-callback-url"),
            Some("https://localhost/bigbluebutton/api/analytics_callback")
        );
        let data = app.store.get_callback_data(None, "cb").await.unwrap().unwrap();
        assert_eq!(data.recording_ready_url.as_deref(), Some("https://a.example/ready"));
        assert_eq!(data.analytics_callback_url.as_deref(), Some("https://a.example/analytics"));
    }

    async fn insert_document_forwards_the_xml_body(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server("bbb1").await;
        let body = "<modules><module name=\"presentation\"><document url=\"https://x/y.pdf\"/></module></modules>";
        let missing = app.http.post(app.signed("insertDocument", "")).header("content-type", "text/xml").body(body).send().await.unwrap();
        Xml::from(missing).await.assert_failed("missingParamMeetingID");
        let unknown = app.http.post(app.signed("insertDocument", "meetingID=u")).header("content-type", "text/xml").body(body).send().await.unwrap();
        Xml::from(unknown).await.assert_failed("notFound");
        app.call("create", "meetingID=doc").await.assert_success();
        let response = app.http.post(app.signed("insertDocument", "meetingID=doc")).header("content-type", "text/xml").body(body).send().await.unwrap();
        Xml::from(response).await.assert_success();
        assert_eq!(fake.meeting("doc").unwrap().inserted_documents, vec![body.to_owned()]);
    }
}

#[tokio::test]
async fn create_applies_max_duration_exclusions_defaults_and_overrides() {
    let mut app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.max_meeting_duration = 3600;
        s.create_exclude_params = vec!["test4".into(), "test2".into()];
        s.default_create_params = vec![
            ("param1".into(), "not-param1".into()),
            ("param2".into(), "param2".into()),
        ];
        s.override_create_params = vec![("param3".into(), "forced".into())];
    })
    .await;
    let fake = app.add_server("bbb1").await;
    for (duration, expected) in [
        ("", "3600"),
        ("&duration=5000", "3600"),
        ("&duration=0", "3600"),
        ("&duration=1200", "1200"),
    ] {
        app.call(
            "create",
            &format!("meetingID=d{expected}{duration}&test4=&test2=&param1=param1&param3=mine"),
        )
        .await
        .assert_success();
        let params = last_params(&fake, "create");
        assert_eq!(param(&params, "duration"), Some(expected), "{duration}");
        assert_eq!(param(&params, "test4"), None);
        assert_eq!(param(&params, "test2"), None);
        assert_eq!(param(&params, "param1"), Some("param1"));
        assert_eq!(param(&params, "param2"), Some("param2"));
        assert_eq!(param(&params, "param3"), Some("forced"));
    }
}

#[tokio::test]
async fn join_excludes_defaults_and_overrides() {
    let mut app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.join_exclude_params = vec!["test1".into(), "test2".into()];
        s.default_join_params = vec![
            ("param1".into(), "not-param1".into()),
            ("param2".into(), "param2".into()),
        ];
        s.override_join_params = vec![("param3".into(), "forced".into())];
    })
    .await;
    app.add_server("bbb1").await;
    app.call("create", "meetingID=j").await.assert_success();
    let response = app
        .get(
            "join",
            "meetingID=j&fullName=A&password=p&test1=&test2=&param1=param1&param3=mine",
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        !location.contains("test1") && !location.contains("test2"),
        "{location}"
    );
    assert!(
        location.contains("param1=param1") && location.contains("param2=param2"),
        "{location}"
    );
    assert!(
        location.contains("param3=forced") && !location.contains("param3=mine"),
        "{location}"
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_meeting_place_it_once() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    app.add_server_with("a", None, 1.0, 0.0).await;
    app.add_server_with("b", None, 1.0, 0.0).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let url = app.signed("create", "meetingID=same");
        let http = app.http.clone();
        tasks.push(tokio::spawn(async move {
            Xml::from(http.get(url).send().await.unwrap()).await
        }));
    }
    for task in tasks {
        task.await.unwrap().assert_success();
    }
    let meeting = app.store.get_meeting("same").await.unwrap();
    let placed: usize = app.fakes.iter().map(|f| f.meetings().len()).sum();
    assert_eq!(placed, 1);
    let total_load = app.load("a").await.unwrap() + app.load("b").await.unwrap();
    assert_eq!(
        total_load, 1.0,
        "one bump for one new meeting (on {})",
        meeting.server_id
    );
}
