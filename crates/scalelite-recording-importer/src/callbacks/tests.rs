use scalelite_core::bbb::checksum::AllowedAlgorithms;
use scalelite_core::jwt::JwtAlgorithm;

use crate::callbacks::jwt_algorithm;

#[test]
fn jwt_algorithm_follows_the_allowed_checksum_algorithms() {
    let algorithm = |value: Option<&str>| jwt_algorithm(&AllowedAlgorithms::parse(value).unwrap());
    assert_eq!(algorithm(None), JwtAlgorithm::Hs256);
    assert_eq!(algorithm(Some("SHA1:SHA256:SHA512")), JwtAlgorithm::Hs256);
    assert_eq!(algorithm(Some("SHA256")), JwtAlgorithm::Hs256);
    assert_eq!(algorithm(Some("SHA512")), JwtAlgorithm::Hs512);
    assert_eq!(algorithm(Some("SHA1:SHA512")), JwtAlgorithm::Hs512);
    assert_eq!(algorithm(Some("SHA1")), JwtAlgorithm::Hs256);
    assert_eq!(algorithm(Some("")), JwtAlgorithm::Hs256);
}
