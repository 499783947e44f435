use super::*;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn docs_test_vector_verifies() {
    let query = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444";
    let checksum = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17";
    let full = format!("{query}&checksum={checksum}");
    let secret = "639259d4-9dd8-4b25-bf01-95f9567eaf4b";
    assert!(verify("create", Some(&full), &[], checksum, secret));
    // Upper-case hex is accepted (the pair is removed with the value as sent).
    let upper = checksum.to_uppercase();
    let full_upper = format!("{query}&checksum={upper}");
    assert!(verify("create", Some(&full_upper), &[], &upper, secret));
    assert!(!verify(
        "create",
        Some(&full),
        &[],
        checksum,
        "other-secret"
    ));
    assert!(!verify("join", Some(&full), &[], checksum, secret));
}

#[test]
fn algorithm_follows_hex_length() {
    assert_eq!(Algorithm::from_hex_len(40), Some(Algorithm::Sha1));
    assert_eq!(Algorithm::from_hex_len(64), Some(Algorithm::Sha256));
    assert_eq!(Algorithm::from_hex_len(96), Some(Algorithm::Sha384));
    assert_eq!(Algorithm::from_hex_len(128), Some(Algorithm::Sha512));
    assert_eq!(Algorithm::from_hex_len(0), None);
    assert_eq!(Algorithm::from_hex_len(32), None);
    // Known SHA-256 of "abc".
    assert_eq!(
        Algorithm::Sha256.hex_digest(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn wrong_length_checksum_never_verifies() {
    assert!(!verify(
        "getMeetings",
        Some("checksum=abc"),
        &[],
        "abc",
        "s"
    ));
    assert!(!verify("getMeetings", Some("checksum="), &[], "", "s"));
}

#[test]
fn checksum_pair_is_removed_as_a_substring() {
    let check = |query: &str| check_string(Some(query), &[], "X");
    assert_eq!(check("meetingID=a&checksum=X"), "meetingID=a");
    assert_eq!(check("checksum=X&meetingID=a"), "meetingID=a");
    assert_eq!(check("&checksum=X"), "");
    assert_eq!(check("checksum=X"), "");
    assert_eq!(check("a=1&checksum=X&b=2"), "a=1&b=2");
    // Nothing is decoded or re-ordered.
    assert_eq!(
        check("b=My+Room+%C3%BC&a=&checksum=X"),
        "b=My+Room+%C3%BC&a="
    );
}

#[test]
fn empty_query_uses_the_sorted_rebuild() {
    let params = pairs(&[
        ("name", "Room 1 ü"),
        ("meetingID", "m~1"),
        ("checksum", "X"),
        ("attendeePW", "ap"),
        ("meta_a", "x"),
        ("meta_a", "y"),
    ]);
    let expected = "attendeePW=ap&meetingID=m%7E1&meta_a=x&meta_a=y&name=Room+1+%C3%BC";
    assert_eq!(check_string(None, &params, "X"), expected);
    assert_eq!(check_string(Some(""), &params, "X"), expected);
}

#[test]
fn rebuild_sorts_upper_case_before_lower_case_and_cleans_values() {
    let params = pairs(&[("b", " two\u{1}\n"), ("B", "one"), ("a", "*-._!")]);
    assert_eq!(sorted_rebuild(&params), "B=one&a=*-._%21&b=two");
}

#[test]
fn java_url_encoder_rules() {
    assert_eq!(java_url_encode("aZ09.-*_"), "aZ09.-*_");
    assert_eq!(java_url_encode("a b"), "a+b");
    assert_eq!(java_url_encode("~!'()/:"), "%7E%21%27%28%29%2F%3A");
    assert_eq!(java_url_encode("é"), "%C3%A9");
}
