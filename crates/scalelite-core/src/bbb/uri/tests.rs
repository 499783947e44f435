use proptest::prelude::*;

use crate::bbb::checksum::{Algorithm, AllowedAlgorithms, verify};
use crate::bbb::params::Params;
use crate::bbb::uri::{bbb_url, encode_component, form_encode};
use crate::domain::Secret;

#[test]
fn encode_component_known_answers() {
    let cases = [
        ("~", "%7E"),
        ("!", "%21"),
        ("'", "%27"),
        ("(", "%28"),
        (")", "%29"),
        ("/", "%2F"),
        (":", "%3A"),
        (" ", "+"),
        ("+", "%2B"),
        ("&", "%26"),
        ("=", "%3D"),
        ("%", "%25"),
        (",", "%2C"),
        ("\n", "%0A"),
        ("\u{7F}", "%7F"),
        ("ü", "%C3%BC"),
        ("\u{1F600}", "%F0%9F%98%80"),
        ("*-._", "*-._"),
        ("AZaz09", "AZaz09"),
        ("", ""),
        ("My Room ü", "My+Room+%C3%BC"),
        (
            "https://x.example/cb?a=1",
            "https%3A%2F%2Fx.example%2Fcb%3Fa%3D1",
        ),
    ];
    for (raw, encoded) in cases {
        assert_eq!(encode_component(raw), encoded, "{raw:?}");
    }
}

#[test]
fn form_encode_joins_pairs_in_order() {
    assert_eq!(form_encode([]), "");
    assert_eq!(form_encode([("a", "")]), "a=");
    assert_eq!(
        form_encode([("b", "x y"), ("a", "1"), ("meta_my key", "(v)")]),
        "b=x+y&a=1&meta_my+key=%28v%29"
    );
}

#[test]
fn bbb_url_spec_vector() {
    let params: Params = [("meetingID", "test-meeting-1")].into_iter().collect();
    let secret = Secret::new("test-1");
    let expected = "https://test-1.example.com/bigbluebutton/api/getMeetingInfo?meetingID=test-meeting-1\
                    &checksum=7901d9cf0f7e63a7e5eacabfd75fabfb223259d6c045ac5b4d86fb774c371945";
    let with_slash = "https://test-1.example.com/bigbluebutton/api/";
    let without_slash = "https://test-1.example.com/bigbluebutton/api";
    assert_eq!(
        bbb_url(
            with_slash,
            "getMeetingInfo",
            &params,
            &secret,
            Algorithm::Sha256
        ),
        expected
    );
    assert_eq!(
        bbb_url(
            without_slash,
            "getMeetingInfo",
            &params,
            &secret,
            Algorithm::Sha256
        ),
        expected
    );
}

#[test]
fn bbb_url_without_params_has_only_the_checksum() {
    // `printf '%s' 'getMeetingsuri-secret' | sha256sum`
    assert_eq!(
        bbb_url(
            "http://bbb/api",
            "getMeetings",
            &Params::default(),
            &Secret::new("uri-secret"),
            Algorithm::Sha256
        ),
        "http://bbb/api/getMeetings?checksum=beaabfe2ccc2ce3d9c7715007872132b37485a073ce4b94d19c10a9585d5ab3f"
    );
}

#[test]
fn bbb_url_encodes_and_signs_with_the_chosen_algorithm() {
    let params: Params = [("name", "A b!"), ("meetingID", "m/1")]
        .into_iter()
        .collect();
    let secret = Secret::new("uri-secret");
    // `printf '%s' 'createname=A+b%21&meetingID=m%2F1uri-secret' | sha1sum` / `sha512sum`
    assert_eq!(
        bbb_url(
            "https://h/b/api/",
            "create",
            &params,
            &secret,
            Algorithm::Sha1
        ),
        "https://h/b/api/create?name=A+b%21&meetingID=m%2F1&checksum=ae458fe20b93743e17e865dfc7541311306b42c3"
    );
    assert_eq!(
        bbb_url(
            "https://h/b/api/",
            "create",
            &params,
            &secret,
            Algorithm::Sha512
        ),
        "https://h/b/api/create?name=A+b%21&meetingID=m%2F1&checksum=cb5797ef98ceed996174dac4c2606116c9b8edf7\
         dd33cce049d89e10fe1d45681e6de1fe316d3d2123bf08acd6a2c7e84e910e9bf506b07e8498143242d3efbc"
    );
}

#[test]
fn bbb_url_keeps_empty_values() {
    let params: Params = [("meetingID", "x"), ("recordID", "")].into_iter().collect();
    let url = bbb_url(
        "http://bbb/api/",
        "getRecordings",
        &params,
        &Secret::new("s"),
        Algorithm::Sha1,
    );
    assert!(
        url.starts_with("http://bbb/api/getRecordings?meetingID=x&recordID=&checksum="),
        "{url}"
    );
}

proptest! {
    #[test]
    fn form_encode_round_trips_through_parse(values in proptest::collection::vec((".{1,8}", ".{0,8}"), 0..6)) {
        let encoded = form_encode(values.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"*-._+%&=".contains(&b)), "{}", encoded);
        let expected: Params = values.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        prop_assert_eq!(Params::parse(&encoded), Ok(expected));
    }

    #[test]
    fn form_encode_never_panics(values in proptest::collection::vec((any::<String>(), any::<String>()), 0..4)) {
        let encoded = form_encode(values.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        prop_assert!(encoded.is_ascii());
    }

    #[test]
    fn bbb_url_is_accepted_by_inbound_verification(
        values in proptest::collection::vec(("[a-zA-Z_]{1,6}", any::<String>()), 0..5),
        secret in any::<String>(), index in 0usize..3,
    ) {
        let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][index];
        let params: Params = values.into_iter().collect();
        let url = bbb_url("http://bbb/api", "create", &params, &Secret::new(secret.clone()), algorithm);
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let (signed, checksum) = match query.rsplit_once("&checksum=") {
            Some(split) => split,
            None => ("", query.strip_prefix("checksum=").unwrap_or_default()),
        };
        prop_assert_eq!(
            verify("create", signed, checksum, &[Secret::new(secret)], &AllowedAlgorithms::default()),
            Ok(algorithm)
        );
    }
}
