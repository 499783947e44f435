use scalelite_core::bbb::checksum::AllowedAlgorithms;
use scalelite_core::jwt::JwtAlgorithm;

use crate::callbacks::{CallbackSettings, jwt_algorithm};

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

/// `CallbackSettings::from_config`: the LB secrets in order, multitenancy, and the JWT algorithm from the checksum
/// algorithms.
#[test]
fn callback_settings_take_their_variables() {
    use std::collections::HashMap;

    use scalelite_core::config::{SecretsArgs, from_env_map};

    let env: HashMap<String, String> = [
        ("LOADBALANCER_SECRET", "one"),
        ("LOADBALANCER_SECRETS", "two:three"),
        ("MULTITENANCY_ENABLED", "true"),
        ("LOADBALANCER_CHECKSUM_ALGORITHM", "SHA512"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let s = CallbackSettings::from_config(&from_env_map::<SecretsArgs>(&env).unwrap());
    let secrets: Vec<&str> = s.lb_secrets.iter().map(|x| x.expose()).collect();
    assert_eq!(secrets, ["one", "two", "three"]);
    assert!(s.multitenancy);
    assert_eq!(s.algorithm, JwtAlgorithm::Hs512);
    let d = CallbackSettings::from_config(&SecretsArgs::default());
    assert!(d.lb_secrets.is_empty() && !d.multitenancy);
    assert_eq!(d.algorithm, JwtAlgorithm::Hs256);
}
