use proptest::prelude::*;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::bbb::checksum::{
    Algorithm, AllowedAlgorithms, ChecksumConfigError, ChecksumError, sign, verify,
};
use crate::bbb::params::split_checksum;
use crate::domain::Secret;

const DOCS_SECRET: &str = "639259d4-9dd8-4b25-bf01-95f9567eaf4b";
const DOCS_QUERY: &str = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444";
const DOCS_SHA1: &str = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17";

/// Expected digest computed straight with the hash crates, not through `Algorithm`.
fn expected(algorithm: Algorithm, text: &str) -> String {
    match algorithm {
        Algorithm::Sha1 => hex::encode(Sha1::digest(text.as_bytes())),
        Algorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
        Algorithm::Sha384 => hex::encode(Sha384::digest(text.as_bytes())),
        Algorithm::Sha512 => hex::encode(Sha512::digest(text.as_bytes())),
    }
}

fn secrets(values: &[&str]) -> Vec<Secret> {
    values.iter().map(|v| Secret::new(*v)).collect()
}

/// Strips then verifies a raw query the way the API does for a GET.
fn check_raw(
    call: &str,
    raw_query: &str,
    checksum: &str,
    secret_list: &[&str],
) -> Result<Algorithm, ChecksumError> {
    let (check_string, _) = split_checksum(raw_query);
    verify(
        call,
        &check_string,
        checksum,
        &secrets(secret_list),
        &AllowedAlgorithms::default(),
    )
}

#[test]
fn algorithm_from_hex_len_maps_the_four_lengths_only() {
    assert_eq!(Algorithm::from_hex_len(40), Some(Algorithm::Sha1));
    assert_eq!(Algorithm::from_hex_len(64), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::from_hex_len(96), Some(Algorithm::Sha384));
    assert_eq!(Algorithm::from_hex_len(128), Some(Algorithm::Sha512));
    for len in [0, 1, 20, 39, 41, 63, 65, 95, 97, 127, 129, 256] {
        assert_eq!(Algorithm::from_hex_len(len), None, "length {len}");
    }
    for algorithm in Algorithm::ALL {
        assert_eq!(
            Algorithm::from_hex_len(algorithm.hex_len()),
            Some(algorithm)
        );
    }
}

#[test]
fn algorithm_names_round_trip_and_are_case_sensitive() {
    let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    assert_eq!(names, ["SHA1", "SHA256", "SHA384", "SHA512"]);
    for algorithm in Algorithm::ALL {
        assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
        assert_eq!(algorithm.to_string(), algorithm.name());
    }
    assert_eq!(Algorithm::from_name("sha1"), None);
    assert_eq!(Algorithm::from_name("SHA-256"), None);
    assert_eq!(Algorithm::from_name(""), None);
}

#[test]
fn hex_digest_known_answers_for_abc() {
    // FIPS 180 test vectors for "abc".
    assert_eq!(
        Algorithm::Sha1.hex_digest(b"abc"),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        Algorithm::Sha256.hex_digest(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        Algorithm::Sha384.hex_digest(b"abc"),
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
    );
    assert_eq!(
        Algorithm::Sha512.hex_digest(b"abc"),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
}

#[test]
fn sign_known_answers_for_all_four_algorithms() {
    // `printf '%s' 'getMeetingsmy-secret' | shaNsum`
    let secret = Secret::new("my-secret");
    assert_eq!(
        sign("getMeetings", "", &secret, Algorithm::Sha1),
        "2b357881bc31fb705c6756a507b0a445c46a22bb"
    );
    assert_eq!(
        sign("getMeetings", "", &secret, Algorithm::Sha256),
        "9f2093781610ed7b67ffef0d6b9408d7f2bf25148710b3cc460b8722bf1cdd5a"
    );
    assert_eq!(
        sign("getMeetings", "", &secret, Algorithm::Sha384),
        "f70d8ee73ca96f9772ca8bf56068ad52e8fef7c8f5fbe870c9f42f8f73bd05d541f1d3301b2ba479850153a20671efec"
    );
    assert_eq!(
        sign("getMeetings", "", &secret, Algorithm::Sha512),
        "648b7f01bdc0baf5c7afd1da80be4ada3c741083cfe5b229f8de46a224eded97\
         da26e19f96d302080826005008581b9706bc38a190527c1e3b5620d7f2d306ef"
    );
}

#[test]
fn sign_docs_vector_and_spec_outbound_vector() {
    assert_eq!(
        sign(
            "create",
            DOCS_QUERY,
            &Secret::new(DOCS_SECRET),
            Algorithm::Sha1
        ),
        DOCS_SHA1
    );
    assert_eq!(
        sign(
            "getMeetingInfo",
            "meetingID=test-meeting-1",
            &Secret::new("test-1"),
            Algorithm::Sha256
        ),
        "7901d9cf0f7e63a7e5eacabfd75fabfb223259d6c045ac5b4d86fb774c371945"
    );
}

#[test]
fn sign_matches_direct_hash_of_the_concatenation() {
    let secret = Secret::new("s3cr3t");
    for algorithm in Algorithm::ALL {
        let digest = sign("join", "meetingID=a&fullName=B+C", &secret, algorithm);
        assert_eq!(
            digest,
            expected(algorithm, "joinmeetingID=a&fullName=B+Cs3cr3t")
        );
        assert_eq!(digest.len(), algorithm.hex_len());
    }
}

#[test]
fn allowed_unset_is_the_original_default() {
    let allowed = AllowedAlgorithms::parse(None).unwrap();
    assert!(allowed.contains(Algorithm::Sha1));
    assert!(allowed.contains(Algorithm::Sha256));
    assert!(!allowed.contains(Algorithm::Sha384));
    assert!(allowed.contains(Algorithm::Sha512));
    assert_eq!(allowed.outbound(), Algorithm::Sha256);
    assert_eq!(allowed, AllowedAlgorithms::default());
}

#[test]
fn allowed_blank_rejects_everything_and_signs_with_sha256() {
    for blank in ["", "   ", "\t"] {
        let allowed = AllowedAlgorithms::parse(Some(blank)).unwrap();
        for algorithm in Algorithm::ALL {
            assert!(!allowed.contains(algorithm), "{blank:?} {algorithm}");
        }
        assert_eq!(allowed.outbound(), Algorithm::Sha256);
    }
}

#[test]
fn allowed_lists_choose_the_strongest_outbound() {
    let cases = [
        ("SHA1", [true, false, false], Algorithm::Sha1),
        ("SHA256", [false, true, false], Algorithm::Sha256),
        ("SHA512", [false, false, true], Algorithm::Sha512),
        ("SHA1:SHA256", [true, true, false], Algorithm::Sha256),
        ("SHA256:SHA1", [true, true, false], Algorithm::Sha256),
        ("SHA512:SHA1", [true, false, true], Algorithm::Sha512),
        ("SHA1:SHA256:SHA512", [true, true, true], Algorithm::Sha512),
        // Listed but never accepted; with nothing stronger listed the original signs with SHA-1.
        ("SHA384", [false, false, false], Algorithm::Sha1),
        ("SHA384:SHA256", [false, true, false], Algorithm::Sha256),
        // Tolerated: empty entries and surrounding spaces.
        ("SHA1::SHA256:", [true, true, false], Algorithm::Sha256),
        (" SHA512 ", [false, false, true], Algorithm::Sha512),
    ];
    for (value, [sha1, sha256, sha512], outbound) in cases {
        let allowed = AllowedAlgorithms::parse(Some(value)).unwrap();
        assert_eq!(allowed.contains(Algorithm::Sha1), sha1, "{value}");
        assert_eq!(allowed.contains(Algorithm::Sha256), sha256, "{value}");
        assert!(!allowed.contains(Algorithm::Sha384), "{value}");
        assert_eq!(allowed.contains(Algorithm::Sha512), sha512, "{value}");
        assert_eq!(allowed.outbound(), outbound, "{value}");
    }
}

#[test]
fn allowed_rejects_unknown_names_naming_the_entry() {
    for (value, entry) in [
        ("sha256", "sha256"),
        ("SHA1:MD5", "MD5"),
        ("SHA1,SHA256", "SHA1,SHA256"),
        ("SHA-1", "SHA-1"),
    ] {
        let err = AllowedAlgorithms::parse(Some(value)).unwrap_err();
        assert_eq!(
            err,
            ChecksumConfigError::UnknownAlgorithm {
                entry: entry.to_owned()
            }
        );
        assert!(err.to_string().contains(entry), "{err}");
        assert!(
            err.to_string().contains("LOADBALANCER_CHECKSUM_ALGORITHM"),
            "{err}"
        );
    }
}

#[test]
fn verify_docs_vector() {
    assert_eq!(
        check_raw(
            "create",
            &format!("{DOCS_QUERY}&checksum={DOCS_SHA1}"),
            DOCS_SHA1,
            &[DOCS_SECRET]
        ),
        Ok(Algorithm::Sha1)
    );
    assert_eq!(
        verify(
            "create",
            DOCS_QUERY,
            DOCS_SHA1,
            &secrets(&[DOCS_SECRET]),
            &AllowedAlgorithms::default()
        ),
        Ok(Algorithm::Sha1)
    );
}

#[test]
fn verify_spec_worked_example_body_only_post_signed_over_call_name() {
    // `docs/compatibility.md#api-checksum-post`: a form POST with every parameter in the body is checked against the
    // bare call name.
    let checksum = expected(Algorithm::Sha1, "getMeetingInfotest-2");
    assert_eq!(
        verify(
            "getMeetingInfo",
            "",
            &checksum,
            &secrets(&["test-2"]),
            &AllowedAlgorithms::default()
        ),
        Ok(Algorithm::Sha1)
    );
}

#[test]
fn verify_wire_shapes_of_real_clients() {
    let secret = "wire-secret";
    // (call, signed query exactly as the client hashed it, raw query as it arrives with `{}` for the checksum)
    let shapes = [
        ("getMeetings", "", "checksum={}"),
        ("getMeetings", "", "&checksum={}"),
        (
            "getRecordings",
            "meetingID=x&recordID=",
            "meetingID=x&recordID=&checksum={}",
        ),
        (
            "create",
            "name=My+Room&meetingID=m1",
            "name=My+Room&meetingID=m1&checksum={}",
        ),
        (
            "create",
            "name=My%20Room&meetingID=m1",
            "name=My%20Room&meetingID=m1&checksum={}",
        ),
        (
            "create",
            "meetingID=m1&name=Room",
            "meetingID=m1&name=Room&checksum={}",
        ),
        (
            "create",
            "name=Room&meetingID=m1",
            "name=Room&meetingID=m1&checksum={}",
        ),
        (
            "create",
            "name=My+Room+%C3%BC&meetingID=m1",
            "name=My+Room+%C3%BC&meetingID=m1&checksum={}",
        ),
        (
            "create",
            "meetingID=m1&disabledFeatures=a%2Cb%2Cc",
            "meetingID=m1&disabledFeatures=a%2Cb%2Cc&checksum={}",
        ),
        (
            "join",
            "meetingID=m1&fullName=A&role=VIEWER",
            "meetingID=m1&fullName=A&role=VIEWER&checksum={}",
        ),
        (
            "join",
            "meetingID=m1&fullName=A",
            "checksum={}&meetingID=m1&fullName=A",
        ),
        (
            "join",
            "meetingID=m1&fullName=A",
            "meetingID=m1&checksum={}&fullName=A",
        ),
    ];
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        for (call, signed, raw_template) in shapes {
            let checksum = expected(algorithm, &format!("{call}{signed}{secret}"));
            let raw = raw_template.replace("{}", &checksum);
            assert_eq!(
                check_raw(call, &raw, &checksum, &[secret]),
                Ok(algorithm),
                "{algorithm} {raw}"
            );
        }
    }
}

#[test]
fn verify_is_over_the_raw_encoding_and_order() {
    let secret = "wire-secret";
    // Signed with `+`, sent with `%20`: the raw query differs, so it must fail.
    let plus = expected(Algorithm::Sha256, &format!("createname=My+Room{secret}"));
    assert_eq!(
        check_raw(
            "create",
            &format!("name=My%20Room&checksum={plus}"),
            &plus,
            &[secret]
        ),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
    // Signed sorted, sent unsorted.
    let sorted = expected(Algorithm::Sha256, &format!("createa=1&b=2{secret}"));
    assert_eq!(
        check_raw(
            "create",
            &format!("b=2&a=1&checksum={sorted}"),
            &sorted,
            &[secret]
        ),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
    // Signed over the decoded form, sent encoded.
    let decoded = expected(Algorithm::Sha256, &format!("createname=My Room ü{secret}"));
    assert_eq!(
        check_raw(
            "create",
            &format!("name=My+Room+%C3%BC&checksum={decoded}"),
            &decoded,
            &[secret]
        ),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
}

#[test]
fn verify_rejects_wrong_secret_and_wrong_call() {
    let checksum = expected(Algorithm::Sha256, "getMeetingsright");
    let allowed = AllowedAlgorithms::default();
    assert_eq!(
        verify("getMeetings", "", &checksum, &secrets(&["wrong"]), &allowed),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
    assert_eq!(
        verify(
            "getMeetingInfo",
            "",
            &checksum,
            &secrets(&["right"]),
            &allowed
        ),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
    assert_eq!(
        verify("getMeetings", "", &checksum, &secrets(&["right"]), &allowed),
        Ok(Algorithm::Sha256)
    );
}

#[test]
fn verify_rejects_lengths_matching_no_algorithm() {
    let good = expected(Algorithm::Sha1, "getMeetingss");
    let allowed = AllowedAlgorithms::default();
    let s = secrets(&["s"]);
    assert_eq!(
        verify("getMeetings", "", &good[..39], &s, &allowed),
        Err(ChecksumError::UnsupportedLength { len: 39 })
    );
    assert_eq!(
        verify("getMeetings", "", &format!("{good}0"), &s, &allowed),
        Err(ChecksumError::UnsupportedLength { len: 41 })
    );
    assert_eq!(
        verify("getMeetings", "", "totallyNotAHash", &s, &allowed),
        Err(ChecksumError::UnsupportedLength { len: 15 })
    );
}

#[test]
fn verify_never_accepts_sha384_even_when_listed() {
    let checksum = expected(Algorithm::Sha384, "getMeetingss");
    for allowed in [
        AllowedAlgorithms::default(),
        AllowedAlgorithms::parse(Some("SHA1:SHA256:SHA384:SHA512")).unwrap(),
    ] {
        assert_eq!(
            verify("getMeetings", "", &checksum, &secrets(&["s"]), &allowed),
            Err(ChecksumError::NotAllowed {
                algorithm: Algorithm::Sha384
            })
        );
    }
}

#[test]
fn verify_rejects_algorithms_left_out_of_the_list() {
    let only_sha256 = AllowedAlgorithms::parse(Some("SHA256")).unwrap();
    let s = secrets(&["s"]);
    for algorithm in [Algorithm::Sha1, Algorithm::Sha512] {
        let checksum = expected(algorithm, "getMeetingss");
        assert_eq!(
            verify("getMeetings", "", &checksum, &s, &only_sha256),
            Err(ChecksumError::NotAllowed { algorithm })
        );
    }
    let checksum = expected(Algorithm::Sha256, "getMeetingss");
    assert_eq!(
        verify("getMeetings", "", &checksum, &s, &only_sha256),
        Ok(Algorithm::Sha256)
    );
}

#[test]
fn verify_with_blank_allow_list_rejects_every_valid_checksum() {
    let blank = AllowedAlgorithms::parse(Some("")).unwrap();
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let checksum = expected(algorithm, "getMeetingss");
        assert_eq!(
            verify("getMeetings", "", &checksum, &secrets(&["s"]), &blank),
            Err(ChecksumError::NotAllowed { algorithm })
        );
    }
}

#[test]
fn verify_rejects_missing_or_blank_checksum() {
    for blank in ["", " ", "   \t"] {
        assert_eq!(
            verify(
                "getMeetings",
                "",
                blank,
                &secrets(&["s"]),
                &AllowedAlgorithms::default()
            ),
            Err(ChecksumError::Missing),
            "{blank:?}"
        );
    }
}

#[test]
fn verify_rejects_non_hex_of_a_valid_length() {
    let s = secrets(&["s"]);
    let allowed = AllowedAlgorithms::default();
    assert_eq!(
        verify("getMeetings", "", &"g".repeat(40), &s, &allowed),
        Err(ChecksumError::NotHex)
    );
    let mut almost = expected(Algorithm::Sha256, "getMeetingss");
    almost.replace_range(10..11, "z");
    assert_eq!(
        verify("getMeetings", "", &almost, &s, &allowed),
        Err(ChecksumError::NotHex)
    );
    // 40 bytes but 20 characters: not hex either.
    assert_eq!(
        verify("getMeetings", "", &"é".repeat(20), &s, &allowed),
        Err(ChecksumError::NotHex)
    );
}

#[test]
fn verify_accepts_upper_and_mixed_case_hex() {
    let s = secrets(&["s"]);
    let allowed = AllowedAlgorithms::default();
    for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
        let lower = expected(algorithm, "getMeetingsa=1s");
        let upper = lower.to_ascii_uppercase();
        assert_ne!(lower, upper);
        assert_eq!(
            verify("getMeetings", "a=1", &upper, &s, &allowed),
            Ok(algorithm)
        );
        let mixed: String = lower
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert_eq!(
            verify("getMeetings", "a=1", &mixed, &s, &allowed),
            Ok(algorithm)
        );
        // And through the raw-query path: the pair is removed as sent.
        assert_eq!(
            check_raw(
                "getMeetings",
                &format!("a=1&checksum={upper}"),
                &upper,
                &["s"]
            ),
            Ok(algorithm)
        );
    }
}

#[test]
fn verify_tries_every_secret() {
    let checksum = expected(Algorithm::Sha256, "getMeetingssecond");
    let allowed = AllowedAlgorithms::default();
    assert_eq!(
        verify(
            "getMeetings",
            "",
            &checksum,
            &secrets(&["first", "second", "third"]),
            &allowed
        ),
        Ok(Algorithm::Sha256)
    );
    assert_eq!(
        verify(
            "getMeetings",
            "",
            &checksum,
            &secrets(&["first", "third"]),
            &allowed
        ),
        Err(ChecksumError::Mismatch {
            algorithm: Algorithm::Sha256
        })
    );
}

#[test]
fn verify_without_secrets_fails() {
    let checksum = expected(Algorithm::Sha256, "getMeetings");
    assert_eq!(
        verify(
            "getMeetings",
            "",
            &checksum,
            &[],
            &AllowedAlgorithms::default()
        ),
        Err(ChecksumError::NoSecrets)
    );
}

#[test]
fn errors_never_show_the_secret_or_checksum() {
    let secret = "very-secret-value";
    let checksum = expected(Algorithm::Sha256, "getMeetingsother");
    let err = verify(
        "getMeetings",
        "",
        &checksum,
        &secrets(&[secret]),
        &AllowedAlgorithms::default(),
    )
    .unwrap_err();
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains(&checksum), "{shown}");
    }
}

proptest! {
    #[test]
    fn verify_never_panics(call in any::<String>(), check in any::<String>(), checksum in any::<String>(),
                           secret in any::<String>()) {
        let result = verify(&call, &check, &checksum, &[Secret::new(secret)], &AllowedAlgorithms::default());
        // Arbitrary text is almost never a valid checksum; if it verifies, it must have an accepted length.
        if let Ok(algorithm) = result {
            prop_assert_eq!(checksum.len(), algorithm.hex_len());
        }
    }

    #[test]
    fn signed_requests_verify_and_tampered_ones_do_not(
        call in "[a-zA-Z]{1,16}", query in any::<String>(), secret in any::<String>(),
        index in 0usize..3, upper in any::<bool>(),
    ) {
        let algorithm = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512][index];
        let mut checksum = sign(&call, &query, &Secret::new(secret.clone()), algorithm);
        if upper {
            checksum = checksum.to_ascii_uppercase();
        }
        let allowed = AllowedAlgorithms::default();
        prop_assert_eq!(verify(&call, &query, &checksum, &[Secret::new(secret.clone())], &allowed), Ok(algorithm));
        let tampered = format!("{query}x");
        prop_assert_eq!(
            verify(&call, &tampered, &checksum, &[Secret::new(secret)], &allowed),
            Err(ChecksumError::Mismatch { algorithm })
        );
    }
}
