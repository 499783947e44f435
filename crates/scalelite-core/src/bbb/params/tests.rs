use proptest::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::bbb::checksum::{Algorithm, AllowedAlgorithms, ChecksumError};
use crate::bbb::params::{
    MeetingId, MissingMeetingId, Params, ParamsError, RequestError, required, split_checksum,
    split_list, verify_request,
};
use crate::domain::Secret;

const SECRET: &str = "params-secret";

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn pairs(params: &Params) -> Vec<(&str, &str)> {
    params.iter().collect()
}

fn verify(call: &str, query: Option<&str>, body: Option<&str>) -> Result<Params, RequestError> {
    verify_request(
        call,
        query,
        body,
        &[Secret::new(SECRET)],
        &AllowedAlgorithms::default(),
    )
}

#[test]
fn parse_keeps_order_and_decodes() {
    let params =
        Params::parse("meetingID=abc&name=My+Room+%C3%BC&empty=&flag&a%20b=c%2Bd").unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("meetingID", "abc"),
            ("name", "My Room ü"),
            ("empty", ""),
            ("flag", ""),
            ("a b", "c+d")
        ]
    );
    assert_eq!(params.len(), 5);
}

#[test]
fn parse_repeated_name_keeps_first_position_and_last_value() {
    let params = Params::parse("a=1&b=2&a=3&c=4&a=5").unwrap();
    assert_eq!(pairs(&params), [("a", "5"), ("b", "2"), ("c", "4")]);
}

#[test]
fn parse_skips_empty_pieces_and_empty_names() {
    let params = Params::parse("&&a=1&&=orphan&b=2&").unwrap();
    assert_eq!(pairs(&params), [("a", "1"), ("b", "2")]);
    assert!(Params::parse("").unwrap().is_empty());
    assert!(Params::parse("&").unwrap().is_empty());
}

#[test]
fn parse_splits_on_the_first_equals_only() {
    assert_eq!(pairs(&Params::parse("a=b=c").unwrap()), [("a", "b=c")]);
    assert_eq!(pairs(&Params::parse("a==").unwrap()), [("a", "=")]);
}

#[test]
fn parse_keeps_invalid_percent_escapes_literally() {
    let params = Params::parse("a=100%&b=%zz&c=%4&d=%%41&e=%4g").unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("a", "100%"),
            ("b", "%zz"),
            ("c", "%4"),
            ("d", "%A"),
            ("e", "%4g")
        ]
    );
}

#[test]
fn parse_decodes_case_insensitive_escapes() {
    assert_eq!(
        pairs(&Params::parse("a=%c3%bc%2b%2F").unwrap()),
        [("a", "ü+/")]
    );
}

#[test]
fn parse_reports_invalid_utf8_with_the_name() {
    assert_eq!(
        Params::parse("ok=1&bad=%FF"),
        Err(ParamsError::InvalidUtf8 {
            name: "bad".to_owned()
        })
    );
    assert_eq!(
        Params::parse("%FFx=1"),
        Err(ParamsError::InvalidUtf8 {
            name: "\u{FFFD}x".to_owned()
        })
    );
    // Overlong encodings and lone continuation bytes are not UTF-8 either.
    assert_eq!(
        Params::parse("c=%C0%AF"),
        Err(ParamsError::InvalidUtf8 {
            name: "c".to_owned()
        })
    );
}

#[test]
fn set_replaces_in_place_or_appends() {
    let mut params = Params::parse("a=1&b=2").unwrap();
    params.set("a", "10");
    params.set("c", String::from("3"));
    assert_eq!(pairs(&params), [("a", "10"), ("b", "2"), ("c", "3")]);
}

#[test]
fn remove_keeps_the_rest_in_order_and_lookups_right() {
    let mut params = Params::parse("a=1&b=2&c=3&d=4").unwrap();
    assert_eq!(params.remove("b"), Some("2".to_owned()));
    assert_eq!(params.remove("b"), None);
    assert_eq!(pairs(&params), [("a", "1"), ("c", "3"), ("d", "4")]);
    assert_eq!(params.get("c"), Some("3"));
    assert_eq!(params.get("d"), Some("4"));
    assert!(!params.contains("b"));
    params.set("d", "40");
    params.set("b", "20");
    assert_eq!(
        pairs(&params),
        [("a", "1"), ("c", "3"), ("d", "40"), ("b", "20")]
    );
    assert_eq!(params.len(), 4);
}

#[test]
fn get_and_contains_distinguish_absent_from_empty() {
    let params = Params::parse("empty=&bare").unwrap();
    assert_eq!(params.get("empty"), Some(""));
    assert_eq!(params.get("bare"), Some(""));
    assert_eq!(params.get("missing"), None);
    assert!(params.contains("empty"));
    assert!(!params.contains("missing"));
    assert!(!params.contains("Empty"));
}

#[test]
fn from_iterator_uses_set_semantics() {
    let owned: Params = vec![
        ("x".to_owned(), "1".to_owned()),
        ("y".to_owned(), "2".to_owned()),
        ("x".to_owned(), "3".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(pairs(&owned), [("x", "3"), ("y", "2")]);
    let borrowed: Params = [("x", "3"), ("y", "2")].into_iter().collect();
    assert_eq!(owned, borrowed);
    assert_ne!(
        owned,
        [("y", "2"), ("x", "3")].into_iter().collect::<Params>()
    );
    assert!(Params::default().is_empty());
}

#[test]
fn debug_lists_the_pairs() {
    let params: Params = [("a", "1")].into_iter().collect();
    assert_eq!(format!("{params:?}"), r#"{"a": "1"}"#);
}

#[test]
fn required_treats_blank_as_missing() {
    let params = Params::parse("empty=&spaces=+++&tabs=%09%0A&id=+x+&plain=abc").unwrap();
    assert_eq!(required(&params, "absent"), None);
    assert_eq!(required(&params, "empty"), None);
    assert_eq!(required(&params, "spaces"), None);
    assert_eq!(required(&params, "tabs"), None);
    assert_eq!(required(&params, "id"), Some(" x "));
    assert_eq!(required(&params, "plain"), Some("abc"));
}

#[test]
fn meeting_id_from_params() {
    for raw in ["", "meetingID=", "meetingID=+++", "meetingid=abc"] {
        assert_eq!(
            MeetingId::from_params(&Params::parse(raw).unwrap()),
            Err(MissingMeetingId),
            "{raw}"
        );
    }
    let id = MeetingId::from_params(&Params::parse("meetingID=room+1").unwrap()).unwrap();
    assert_eq!(id.as_str(), "room 1");
    assert_eq!(id.to_string(), "room 1");
    assert_eq!(id.into_string(), "room 1");
}

#[test]
fn split_list_follows_ruby_split() {
    let cases: [(&str, &[&str]); 10] = [
        ("", &[]),
        (",", &[]),
        (",,,", &[]),
        ("a", &["a"]),
        ("a,b", &["a", "b"]),
        ("a,,b", &["a", "", "b"]),
        (",a", &["", "a"]),
        ("a,b,,", &["a", "b"]),
        (",,a,,", &["", "", "a"]),
        (" a , b ", &[" a ", " b "]),
    ];
    for (value, expected) in cases {
        assert_eq!(split_list(value), expected, "{value:?}");
    }
}

#[test]
fn query_checksum_covers_the_query_and_the_body_is_ignored() {
    let checksum = sha256(&format!("getMeetingInfomeetingID=q{SECRET}"));
    let query = format!("meetingID=q&checksum={checksum}");
    let params = verify(
        "getMeetingInfo",
        Some(&query),
        Some("meetingID=b&extra=1&checksum=junk"),
    )
    .unwrap();
    assert_eq!(pairs(&params), [("meetingID", "q")]);
}

#[test]
fn query_checksum_may_come_from_the_body() {
    let checksum = sha256(&format!("getMeetingInfomeetingID=q{SECRET}"));
    let body = format!("extra=1&checksum={checksum}");
    let params = verify("getMeetingInfo", Some("meetingID=q"), Some(&body)).unwrap();
    assert_eq!(pairs(&params), [("meetingID", "q")]);
}

#[test]
fn query_returns_every_covered_parameter_without_checksum() {
    let checksum = sha256(&format!(
        "createname=My+Room+%C3%BC&meetingID=m&record=true{SECRET}"
    ));
    let query = format!("name=My+Room+%C3%BC&checksum={checksum}&meetingID=m&record=true");
    let params = verify("create", Some(&query), None).unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("name", "My Room ü"),
            ("meetingID", "m"),
            ("record", "true")
        ]
    );
}

#[test]
fn split_checksum_known_cases() {
    let cases = [
        ("&checksum=abc123", "", Some("abc123")),
        ("checksum=abc123", "", Some("abc123")),
        ("checksum=abc123&a=1", "a=1", Some("abc123")),
        ("a=1&checksum=abc123", "a=1", Some("abc123")),
        ("a=1&checksum=abc123&b=2", "a=1&b=2", Some("abc123")),
        ("&checksum=abc123&", "&", Some("abc123")),
        ("a=1&&checksum=abc123", "a=1&", Some("abc123")),
        ("checksum=abc123&&b=2", "&b=2", Some("abc123")),
        ("checksum=old&a=1&checksum=abc123", "a=1", Some("abc123")),
        ("%63hecksum=abc123&a=1", "a=1", Some("abc123")),
        ("checksum=&a=1", "a=1", Some("")),
        ("checksum", "", Some("")),
        // Only the parameter named exactly `checksum` goes; names that merely end in it stay.
        ("xchecksum=abc123", "xchecksum=abc123", None),
        (
            "guestchecksum=abc123=true&meetingID=m&checksum=abc123",
            "guestchecksum=abc123=true&meetingID=m",
            Some("abc123"),
        ),
        (
            "a=checksum=abc123&checksum=abc123",
            "a=checksum=abc123",
            Some("abc123"),
        ),
        ("Checksum=abc123", "Checksum=abc123", None),
        ("a=1", "a=1", None),
        ("", "", None),
        ("name=%C3%BC&checksum=abc123", "name=%C3%BC", Some("abc123")),
        ("name=ü&checksum=abc123&é=1", "name=ü&é=1", Some("abc123")),
    ];
    for (raw, stripped, value) in cases {
        assert_eq!(
            split_checksum(raw),
            (stripped.to_owned(), value.map(str::to_owned)),
            "{raw}"
        );
    }
}

/// Attack: a join signed over `guest=true&meetingID=m&...`, rewritten so that `guest` becomes part of a longer
/// name ending in `checksum=<X>`. Removing the text `checksum=<X>` anywhere would give back the signed string.
#[test]
fn a_parameter_ending_in_checksum_is_covered_and_cannot_hide_a_signed_one() {
    let signed = "guest=true&meetingID=m&fullName=A&password=ap";
    let checksum = sha256(&format!("join{signed}{SECRET}"));
    assert!(verify("join", Some(&format!("{signed}&checksum={checksum}")), None).is_ok());
    let forged = format!(
        "guestchecksum={checksum}=true&meetingID=m&fullName=A&password=ap&checksum={checksum}"
    );
    assert!(matches!(
        verify("join", Some(&forged), None),
        Err(RequestError::Checksum(ChecksumError::Mismatch { .. }))
    ));
}

#[test]
fn query_with_only_a_leading_ampersand_and_checksum() {
    let checksum = sha256(&format!("getMeetings{SECRET}"));
    let params = verify("getMeetings", Some(&format!("&checksum={checksum}")), None).unwrap();
    assert!(params.is_empty());
}

#[test]
fn query_with_wrong_checksum_is_a_checksum_error() {
    let checksum = sha256(&format!("getMeetingInfomeetingID=other{SECRET}"));
    let query = format!("meetingID=q&checksum={checksum}");
    assert_eq!(
        verify("getMeetingInfo", Some(&query), None),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
    assert_eq!(
        verify("getMeetingInfo", Some("meetingID=q"), None),
        Err(RequestError::Checksum(ChecksumError::Missing))
    );
}

#[test]
fn body_only_post_uses_bbb_webs_sorted_rebuild() {
    // sha1("create" + "attendeePW=111222&meetingID=abc123&moderatorPW=333444&name=Test+Meeting" + secret),
    // computed with sha1sum.
    let body = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444\
                &checksum=0b89c2ebcfefb76772cbcf19386c33561f66f6ae";
    let params = verify_request(
        "create",
        None,
        Some(body),
        &[Secret::new("639259d4-9dd8-4b25-bf01-95f9567eaf4b")],
        &AllowedAlgorithms::default(),
    )
    .unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("name", "Test Meeting"),
            ("meetingID", "abc123"),
            ("attendeePW", "111222"),
            ("moderatorPW", "333444")
        ]
    );
}

#[test]
fn body_only_post_signed_over_the_empty_string_is_rejected_when_it_has_params() {
    let checksum = sha256(&format!("getMeetingInfo{SECRET}"));
    let body = format!("meetingID=SHA1_meeting&checksum={checksum}");
    assert_eq!(
        verify("getMeetingInfo", None, Some(&body)),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
    assert_eq!(
        verify("getMeetingInfo", Some(""), Some(&body)),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
}

#[test]
fn body_holding_only_the_checksum_is_signed_over_the_call_name() {
    // The worked example of `docs/compatibility.md#api-checksum-post`, SHA-1 and secret test-2.
    let checksum = hex::encode(Sha1::digest(b"getMeetingInfotest-2"));
    let params = verify_request(
        "getMeetingInfo",
        None,
        Some(&format!("checksum={checksum}")),
        &[Secret::new("test-2")],
        &AllowedAlgorithms::default(),
    )
    .unwrap();
    assert!(params.is_empty());
}

#[test]
fn body_rebuild_repeats_encodes_values_and_keeps_names_decoded() {
    let signed = "a=1&b=2&b=3&my key=My+Room%21+%7E+%C3%BC&x=*-._";
    let checksum = sha256(&format!("create{signed}{SECRET}"));
    let body = format!("b=2&my%20key=My%20Room!%20~%20%C3%BC&a=1&x=*-._&b=3&checksum={checksum}");
    let params = verify("create", None, Some(&body)).unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("b", "3"),
            ("my key", "My Room! ~ ü"),
            ("a", "1"),
            ("x", "*-._")
        ]
    );
}

#[test]
fn body_rebuild_strips_control_characters_and_trims() {
    let signed = "name=Hi+there&z=";
    let checksum = sha256(&format!("create{signed}{SECRET}"));
    let body = format!("name=%20%20Hi%09+there%0A&z=+%7F+&checksum={checksum}");
    let params = verify("create", None, Some(&body)).unwrap();
    // What is returned is what was signed.
    assert_eq!(pairs(&params), [("name", "Hi there"), ("z", "")]);
}

#[test]
fn body_rebuild_sorts_in_java_string_order() {
    // Upper case before lower case; a supplementary character (UTF-16 surrogates, 0xD83D...) before U+FF21.
    let signed = "Zeta=1&alpha=2&\u{1F600}=3&\u{FF21}=4";
    let checksum = sha256(&format!("create{signed}{SECRET}"));
    let body = format!("%EF%BC%A1=4&alpha=2&%F0%9F%98%80=3&Zeta=1&checksum={checksum}");
    let params = verify("create", None, Some(&body)).unwrap();
    assert_eq!(
        pairs(&params),
        [
            ("\u{FF21}", "4"),
            ("alpha", "2"),
            ("\u{1F600}", "3"),
            ("Zeta", "1")
        ]
    );
}

#[test]
fn body_rebuild_is_not_the_sent_order() {
    let checksum = sha256(&format!("createb=2&a=1{SECRET}"));
    assert_eq!(
        verify(
            "create",
            None,
            Some(&format!("b=2&a=1&checksum={checksum}"))
        ),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
}

#[test]
fn neither_query_nor_body_means_no_checksum() {
    assert_eq!(
        verify("getMeetings", None, None),
        Err(RequestError::Checksum(ChecksumError::Missing))
    );
    assert_eq!(
        verify("getMeetings", Some(""), Some("")),
        Err(RequestError::Checksum(ChecksumError::Missing))
    );
}

#[test]
fn invalid_utf8_in_a_verified_query_is_reported() {
    let checksum = sha256(&format!("createname=%FF{SECRET}"));
    assert_eq!(
        verify(
            "create",
            Some(&format!("name=%FF&checksum={checksum}")),
            None
        ),
        Err(RequestError::Params(ParamsError::InvalidUtf8 {
            name: "name".to_owned()
        }))
    );
}

#[test]
fn invalid_utf8_with_a_bad_checksum_is_a_checksum_error() {
    let checksum = sha256(&format!("createname=other{SECRET}"));
    assert_eq!(
        verify(
            "create",
            Some(&format!("name=%FF&checksum={checksum}")),
            None
        ),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
}

#[test]
fn invalid_utf8_in_an_ignored_body_does_not_matter() {
    let checksum = sha256(&format!("getMeetingInfomeetingID=q{SECRET}"));
    let params = verify(
        "getMeetingInfo",
        Some(&format!("meetingID=q&checksum={checksum}")),
        Some("x=%FF"),
    )
    .unwrap();
    assert_eq!(pairs(&params), [("meetingID", "q")]);
}

#[test]
fn invalid_utf8_in_a_verified_body_is_reported() {
    // The servlet container decodes lossily, so the client's checksum covers U+FFFD.
    let checksum = sha256(&format!("createname=%EF%BF%BD{SECRET}"));
    assert_eq!(
        verify(
            "create",
            None,
            Some(&format!("name=%FF&checksum={checksum}"))
        ),
        Err(RequestError::Params(ParamsError::InvalidUtf8 {
            name: "name".to_owned()
        }))
    );
    let wrong = sha256(&format!("createname=x{SECRET}"));
    assert_eq!(
        verify("create", None, Some(&format!("name=%FF&checksum={wrong}"))),
        Err(RequestError::Checksum(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        }))
    );
}

#[test]
fn request_error_display_is_the_inner_error() {
    let err = RequestError::from(ChecksumError::Missing);
    assert_eq!(err.to_string(), ChecksumError::Missing.to_string());
}

proptest! {
    #[test]
    fn parse_never_panics(raw in any::<String>()) {
        let _ = Params::parse(&raw);
    }

    #[test]
    fn parse_of_form_like_text_never_panics_and_has_unique_names(raw in "([a-c%+=&]|%[0-9A-Fa-f]{2}|%F[0-9]){0,30}") {
        if let Ok(params) = Params::parse(&raw) {
            let mut names: Vec<&str> = params.iter().map(|(name, _)| name).collect();
            let total = names.len();
            names.sort_unstable();
            names.dedup();
            prop_assert_eq!(names.len(), total);
            prop_assert!(names.iter().all(|name| !name.is_empty()));
        }
    }

    #[test]
    fn verify_request_never_panics(call in any::<String>(), query in proptest::option::of(any::<String>()),
                                   body in proptest::option::of(any::<String>())) {
        let result = verify_request(&call, query.as_deref(), body.as_deref(), &[Secret::new("s")],
                                    &AllowedAlgorithms::default());
        prop_assert!(result.is_err());
    }

    #[test]
    fn verify_request_accepts_a_correctly_signed_query(values in proptest::collection::vec(("[a-z]{1,5}", any::<String>()), 0..5)) {
        let query = crate::bbb::uri::form_encode(values.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let checksum = sha256(&format!("create{query}{SECRET}"));
        let raw = if query.is_empty() { format!("checksum={checksum}") } else { format!("{query}&checksum={checksum}") };
        let params = verify("create", Some(&raw), None).unwrap();
        let expected: Params = values.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        prop_assert_eq!(params, expected);
    }
}
