//! FreeSWITCH dial-in: `POST /fsapi` (`docs/compatibility.md#fsapi`).

use std::time::Duration;

use scalelite_core::domain::Secret;
use scalelite_core::storage::MeetingStore;

use crate::harness::*;

async fn post(
    app: &TestApp,
    auth: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.http.post(app.url("/fsapi")).form(form);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.expect("request")
}

/// `(application, data)` of every action of the dial plan's condition.
fn actions(xml: &Xml) -> Vec<(String, String)> {
    xml.root
        .find_all("section/context/extension/condition/action")
        .iter()
        .map(|a| {
            (
                a.attribute("application").unwrap_or_default().to_owned(),
                a.attribute("data").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn extension(xml: &Xml) -> String {
    xml.root
        .find("section/context/extension")
        .and_then(|e| e.attribute("name"))
        .unwrap_or_default()
        .to_owned()
}

fn data_of(xml: &Xml, application: &str) -> Vec<String> {
    actions(xml)
        .into_iter()
        .filter(|(a, _)| a == application)
        .map(|(_, d)| d)
        .collect()
}

const DIALPLAN: (&str, &str) = ("section", "dialplan");
const DID: (&str, &str) = ("Caller-Destination-Number", "5551234");

#[tokio::test]
async fn basic_auth_with_the_fsapi_user() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.fsapi_password = Some(Secret::new("password"));
        s.url_host = Some("sl.test".into());
    })
    .await;
    for auth in [None, Some(("fsapi", "wrong")), Some(("admin", "password"))] {
        let response = app
            .http
            .post(app.url("/fsapi"))
            .header("Host", "sl.test")
            .form(&[DIALPLAN, DID]);
        let response = match auth {
            Some((user, password)) => response.basic_auth(user, Some(password)),
            None => response,
        };
        let response = response.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert_eq!(
            response.headers()["www-authenticate"].to_str().unwrap(),
            "Basic realm=\"sl.test\""
        );
        assert_eq!(
            response.text().await.unwrap(),
            "HTTP Basic: Access denied.\n"
        );
    }
    let response = app
        .http
        .post(app.url("/fsapi"))
        .header("Host", "sl.test")
        .basic_auth("fsapi", Some("password"))
        .form(&[DIALPLAN, DID])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/xml; charset=utf-8"
    );
    let xml = Xml::from(response).await;
    assert_eq!(xml.status, 200);
    assert_eq!(xml.root.name, "document");
    assert_eq!(xml.root.attribute("type"), Some("freeswitch/xml"));
    assert_eq!(
        xml.root.find("section").and_then(|s| s.attribute("name")),
        Some("dialplan")
    );
}

#[tokio::test]
async fn no_password_means_no_auth_and_only_post_is_served() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let xml = Xml::from(post(&app, None, &[DIALPLAN, DID]).await).await;
    assert_eq!(extension(&xml), "match_did_and_prompt_for_pin");
    let get = app.http.get(app.url("/fsapi")).send().await.unwrap();
    Xml::from(get).await.assert_failed("unsupportedRequest");
}

#[tokio::test]
async fn other_sections_and_missing_numbers_are_not_found() {
    let app = TestApp::spawn(Backend::Embedded).await;
    for form in [
        vec![("section", "directory"), DID],
        vec![DIALPLAN],
        vec![DIALPLAN, ("Caller-Destination-Number", " ")],
    ] {
        let xml = Xml::from(post(&app, None, &form).await).await;
        assert_eq!(
            xml.root.find("section").and_then(|s| s.attribute("name")),
            Some("result"),
            "{form:?}"
        );
        assert_eq!(
            xml.root
                .find("section/result")
                .and_then(|r| r.attribute("status")),
            Some("not found")
        );
    }
}

#[tokio::test]
async fn pin_prompt_with_and_without_a_call_limit() {
    let app = TestApp::spawn_with(Backend::Embedded, |s| {
        s.fsapi_max_duration = Duration::from_secs(90 * 60);
        s.voice_bridge_min = 6;
        s.voice_bridge_max = 10;
    })
    .await;
    let xml = Xml::from(post(&app, None, &[DIALPLAN, DID]).await).await;
    let condition = xml
        .root
        .find("section/context/extension/condition")
        .unwrap();
    assert_eq!(condition.attribute("field"), Some("destination_number"));
    assert_eq!(condition.attribute("expression"), Some("^5551234$"));
    let applications: Vec<String> = actions(&xml).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        applications,
        [
            "answer",
            "sched_hangup",
            "sleep",
            "playback",
            "sleep",
            "play_and_get_digits",
            "transfer"
        ]
    );
    assert_eq!(data_of(&xml, "sched_hangup"), ["+5400 normal_clearing"]);
    assert_eq!(data_of(&xml, "playback"), ["ivr/ivr-welcome.wav"]);
    assert_eq!(
        data_of(&xml, "play_and_get_digits"),
        ["6 10 3 7000 # conference/conf-enter_conf_pin.wav conference/conf-bad-pin.wav pin \\d+"]
    );
    assert_eq!(data_of(&xml, "transfer"), ["${pin} XML public"]);

    let unlimited = TestApp::spawn(Backend::Embedded).await;
    let xml = Xml::from(post(&unlimited, None, &[DIALPLAN, DID]).await).await;
    assert!(data_of(&xml, "sched_hangup").is_empty());
}

both_backends! {
    async fn pins_bridge_to_the_meetings_server(backend: Backend) {
        let mut app = TestApp::spawn(backend).await;
        let fake = app.add_server("bbb1").await;
        app.call("create", "meetingID=dial-in").await.assert_success();
        let vb = app.store.get_meeting("dial-in").await.unwrap().voice_bridge;
        let host = reqwest::Url::parse(&fake.url()).unwrap().host_str().unwrap().to_owned();

        // Unknown PIN: prompt again.
        let xml = Xml::from(post(&app, None, &[DIALPLAN, DID, ("variable_pin", "12345")]).await).await;
        assert_eq!(extension(&xml), "reprompt_for_pin");
        assert_eq!(data_of(&xml, "playback"), ["conference/conf-bad-pin.wav"]);
        assert_eq!(data_of(&xml, "play_and_get_digits").len(), 1);

        // The meeting's PIN: bridged to its server; a name is shown as is.
        let form = [DIALPLAN, DID, ("variable_pin", vb.as_str()), ("Caller-Caller-ID-Name", "Test User")];
        let xml = Xml::from(post(&app, None, &form).await).await;
        assert_eq!(extension(&xml), "bridge_to_bbb_server");
        assert_eq!(
            data_of(&xml, "set"),
            ["meeting_id=dial-in".to_owned(), "effective_caller_id_name=Test User".to_owned()]
        );
        assert_eq!(data_of(&xml, "bridge"), [format!("sofia/external/{vb}@{host}")]);

        // A breakout room's PIN (one more digit) reaches the parent's server, dialled as entered; a number is
        // masked.
        let breakout = format!("{vb}7");
        let form = [DIALPLAN, DID, ("variable_pin", breakout.as_str()), ("Caller-Caller-ID-Name", "5554321")];
        let xml = Xml::from(post(&app, None, &form).await).await;
        assert_eq!(
            data_of(&xml, "set"),
            ["meeting_id=dial-in".to_owned(), "effective_caller_id_name=555XXXX".to_owned()]
        );
        assert_eq!(data_of(&xml, "bridge"), [format!("sofia/external/{breakout}@{host}")]);

        // Hidden number, hidden name: Unavailable. Parameters in the query work too.
        let url = format!("{}?Caller-Privacy-Hide-Number=true", app.url("/fsapi"));
        let form = [DIALPLAN, DID, ("variable_pin", vb.as_str()), ("Caller-Caller-ID-Name", "5554321")];
        let response = app.http.post(url).form(&form).send().await.unwrap();
        let xml = Xml::from(response).await;
        assert_eq!(data_of(&xml, "set")[1], "effective_caller_id_name=Unavailable");

        // After the meeting ends its PIN is unknown.
        app.store.delete_meeting("dial-in").await.unwrap();
        let xml = Xml::from(post(&app, None, &[DIALPLAN, DID, ("variable_pin", vb.as_str())]).await).await;
        assert_eq!(extension(&xml), "reprompt_for_pin");
    }
}

#[tokio::test]
async fn dial_plan_values_cannot_expand_variables() {
    let mut app = TestApp::spawn(Backend::Embedded).await;
    app.add_server("bbb1").await;
    app.call("create", "meetingID=evil%24%7Bx%7D")
        .await
        .assert_success();
    let vb = app
        .store
        .get_meeting("evil${x}")
        .await
        .unwrap()
        .voice_bridge;
    let form = [
        DIALPLAN,
        ("Caller-Destination-Number", "555.${y}"),
        ("variable_pin", vb.as_str()),
        ("Caller-Caller-ID-Name", "${system(rm)}"),
    ];
    let xml = Xml::from(post(&app, None, &form).await).await;
    let condition = xml
        .root
        .find("section/context/extension/condition")
        .unwrap();
    assert_eq!(
        condition.attribute("expression"),
        Some("^555\\\\.\\\\$\\\\{y\\\\}$")
    );
    assert_eq!(
        data_of(&xml, "set"),
        [
            "meeting_id=evil\\${x}".to_owned(),
            "effective_caller_id_name=\\${system(rm)}".to_owned()
        ]
    );
}
