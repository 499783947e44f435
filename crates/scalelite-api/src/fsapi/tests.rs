use scalelite_core::bbb::xml::{self, Element};

use crate::fsapi::{bridge, caller_id, fs_escape, pin_prompt, pin_reprompt, regex_escape, reject};

#[test]
fn fs_escape_stops_variable_expansion() {
    let cases = [
        ("plain", "plain"),
        ("${evil}", "\\${evil}"),
        ("a\\b", "a\\\\b"),
        ("$notvar {x}", "$notvar {x}"),
        ("\\${x}", "\\\\\\${x}"),
        ("$${", "$\\${"),
    ];
    for (input, expected) in cases {
        assert_eq!(fs_escape(input), expected, "{input}");
    }
}

#[test]
fn regex_escape_follows_ruby() {
    assert_eq!(regex_escape("5551234"), "5551234");
    assert_eq!(regex_escape("+1 (555) 12.3"), "\\+1\\ \\(555\\)\\ 12\\.3");
    assert_eq!(
        regex_escape("a|b*c?^$#-[]{}\\"),
        "a\\|b\\*c\\?\\^\\$\\#\\-\\[\\]\\{\\}\\\\"
    );
    assert_eq!(regex_escape("\t\n\r"), "\\t\\n\\r");
    // Regex-escaped first, then dial-plan escaped, as the original.
    assert_eq!(fs_escape(&regex_escape("${x}")), "\\\\$\\\\{x\\\\}");
}

#[test]
fn caller_id_masks_numbers_and_honours_privacy() {
    let cases = [
        (Some("5554321"), None, None, "555XXXX"),
        (Some("123"), None, None, "XXX"),
        (Some("1234"), None, None, "XXXX"),
        (Some("12345"), None, None, "1XXXX"),
        (Some("5554321"), None, Some("true"), "Unavailable"),
        (Some("5554321"), Some("true"), Some("false"), "555XXXX"),
        (Some("Test User"), None, None, "Test User"),
        (Some("Test User"), Some("true"), None, "Unavailable"),
        (Some("Test User"), Some("TRUE"), Some("true"), "Test User"),
        (Some("   "), None, None, "Unavailable"),
        (None, None, None, "Unavailable"),
    ];
    for (name, hide_name, hide_number, expected) in cases {
        assert_eq!(
            caller_id(name, hide_name, hide_number),
            expected,
            "{name:?}"
        );
    }
}

fn actions(document: &Element) -> Vec<(String, Option<String>)> {
    document
        .find_all("section/context/extension/condition/action")
        .iter()
        .map(|a| {
            (
                a.attribute("application").unwrap_or_default().to_owned(),
                a.attribute("data").map(str::to_owned),
            )
        })
        .collect()
}

fn condition_expression(document: &Element) -> String {
    document
        .find("section/context/extension/condition")
        .and_then(|c| c.attribute("expression"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn reject_is_a_not_found_result() {
    let text = xml::write(&reject());
    assert!(
        text.ends_with(
            "<document type=\"freeswitch/xml\"><section name=\"result\"><result status=\"not found\"/></section></document>"
        ) || text.contains("<result status=\"not found\"></result>"),
        "{text}"
    );
    let parsed = xml::parse(text.as_bytes()).unwrap();
    assert_eq!(
        parsed
            .find("section/result")
            .and_then(|r| r.attribute("status")),
        Some("not found")
    );
}

#[test]
fn pin_prompt_answers_and_asks_for_the_pin() {
    let document = pin_prompt("5551234", 5400, 5, 9);
    assert_eq!(document.attribute("type"), Some("freeswitch/xml"));
    assert_eq!(
        document.find("section").and_then(|s| s.attribute("name")),
        Some("dialplan")
    );
    assert_eq!(
        document
            .find("section/context/extension")
            .and_then(|e| e.attribute("name")),
        Some("match_did_and_prompt_for_pin")
    );
    assert_eq!(condition_expression(&document), "^5551234$");
    let data = |s: &str| Some(s.to_owned());
    assert_eq!(
        actions(&document),
        vec![
            ("answer".to_owned(), None),
            ("sched_hangup".to_owned(), data("+5400 normal_clearing")),
            ("sleep".to_owned(), data("500")),
            ("playback".to_owned(), data("ivr/ivr-welcome.wav")),
            ("sleep".to_owned(), data("200")),
            (
                "play_and_get_digits".to_owned(),
                data(
                    "5 9 3 7000 # conference/conf-enter_conf_pin.wav conference/conf-bad-pin.wav pin \\d+"
                )
            ),
            ("transfer".to_owned(), data("${pin} XML public")),
        ]
    );
    // No limit: no scheduled hang-up.
    let unlimited = pin_prompt("5551234", 0, 5, 9);
    assert!(
        actions(&unlimited)
            .iter()
            .all(|(app, _)| app != "sched_hangup")
    );
}

#[test]
fn reprompt_and_bridge() {
    let document = pin_reprompt("+1 555", 4, 12);
    // Regex-escaped, then dial-plan escaped (FreeSWITCH unescapes the doubled backslashes), as the original.
    assert_eq!(condition_expression(&document), "^\\\\+1\\\\ 555$");
    let apps: Vec<String> = actions(&document).into_iter().map(|(a, _)| a).collect();
    assert_eq!(
        apps,
        ["playback", "sleep", "play_and_get_digits", "transfer"]
    );
    assert_eq!(
        actions(&document)[2].1.as_deref(),
        Some(
            "4 12 3 7000 # conference/conf-enter_conf_pin.wav conference/conf-bad-pin.wav pin \\d+"
        )
    );

    let document = bridge(
        "5551234",
        "m${x}",
        "555XXXX",
        "1234567897",
        "bbb1.example.com",
    );
    assert_eq!(
        document
            .find("section/context/extension")
            .and_then(|e| e.attribute("name")),
        Some("bridge_to_bbb_server")
    );
    let data: Vec<Option<String>> = actions(&document).into_iter().map(|(_, d)| d).collect();
    assert_eq!(
        data,
        vec![
            Some("meeting_id=m\\${x}".to_owned()),
            Some("effective_caller_id_name=555XXXX".to_owned()),
            Some("sofia/external/1234567897@bbb1.example.com".to_owned()),
        ]
    );
}
