use super::*;

#[test]
fn operator_booleans_are_strict() {
    for yes in ["true", "TRUE", "yes", "Yes", "1", " true "] {
        assert!(parse_bool("keep_state", yes).unwrap(), "{yes}");
    }
    for no in ["false", "False", "no", "NO", "0"] {
        assert!(!parse_bool("keep_state", no).unwrap(), "{no}");
    }
    for bad in ["", "maybe", "on", "off", "2", "t", "y"] {
        let err = parse_bool("keep_state", bad).unwrap_err().to_string();
        assert!(
            err.contains("keep_state") && err.contains(&format!("'{bad}'")),
            "{err}"
        );
    }
}

#[test]
fn load_multipliers_must_be_finite_numbers() {
    assert_eq!(parse_load_multiplier("2.5").unwrap(), 2.5);
    assert_eq!(parse_load_multiplier(" 3 ").unwrap(), 3.0);
    assert_eq!(parse_load_multiplier("0").unwrap(), 0.0);
    assert_eq!(parse_load_multiplier("-1").unwrap(), -1.0);
    for bad in ["", "abc", "1,5", "NaN", "inf", "1.5x"] {
        let err = parse_load_multiplier(bad).unwrap_err();
        assert!(matches!(err, ManagementError::Invalid(_)), "{bad}: {err}");
    }
}

#[test]
fn numbers_print_like_ruby_floats() {
    assert_eq!(format_number(1.0), "1.0");
    assert_eq!(format_number(25.0), "25.0");
    assert_eq!(format_number(2.5), "2.5");
    assert_eq!(format_number(0.1), "0.1");
    assert_eq!(format_number(-1.0), "-1.0");
}

#[test]
fn server_urls_are_checked_and_corrected() {
    let ok = check_server_url("https://bbb.example.com/bigbluebutton/api/").unwrap();
    assert_eq!(ok.url, "https://bbb.example.com/bigbluebutton/api/");
    assert_eq!(ok.host, "bbb.example.com");
    assert!(!ok.corrected);
    // Without the final slash it is still right (the client adds it when calling).
    let ok = check_server_url("https://BBB.example.com/bigbluebutton/api").unwrap();
    assert_eq!(ok.url, "https://BBB.example.com/bigbluebutton/api");
    assert_eq!(ok.host, "bbb.example.com");
    assert!(!ok.corrected);

    let fixed = check_server_url("https://bbb.example.com").unwrap();
    assert_eq!(fixed.url, "https://bbb.example.com/bigbluebutton/api/");
    assert!(fixed.corrected);
    let fixed = check_server_url("http://10.0.0.1:8080/").unwrap();
    assert_eq!(fixed.url, "http://10.0.0.1:8080/bigbluebutton/api/");
    let fixed = check_server_url("https://proxy.example.com/bbb1/?x=1").unwrap();
    assert_eq!(
        fixed.url,
        "https://proxy.example.com/bbb1/bigbluebutton/api/"
    );

    for bad in [
        "bbb.example.com",
        "ftp://bbb.example.com/",
        "HTTPS://bbb",
        "https://",
        "http://:80/",
    ] {
        let err = check_server_url(bad).unwrap_err();
        assert!(matches!(err, ManagementError::Invalid(_)), "{bad}: {err}");
    }
    assert_eq!(
        check_server_url("bbb.example.com").unwrap_err().to_string(),
        "Server URL must start with http:// or https://"
    );
}

#[test]
fn secrets_split_on_colons_without_empty_entries() {
    let secrets = split_secrets("a::b: c :");
    let exposed: Vec<&str> = secrets.iter().map(crate::domain::Secret::expose).collect();
    assert_eq!(exposed, ["a", "b", "c"]);
    assert_eq!(join_secrets(&secrets), "a:b:c");
    assert!(split_secrets(" : ").is_empty());
}

#[test]
fn blank_arguments_count_as_not_given() {
    assert_eq!(non_blank(Some("x")), Some("x"));
    assert_eq!(non_blank(Some("  ")), None);
    assert_eq!(non_blank(Some("")), None);
    assert_eq!(non_blank(None), None);
}

#[test]
fn store_conflicts_become_management_conflicts() {
    let err: ManagementError =
        StoreError::Conflict("Server already exists with id 'x'".into()).into();
    assert!(matches!(err, ManagementError::Conflict(ref m) if m.contains("already exists")));
    let err: ManagementError = StoreError::Backend("down".into()).into();
    assert!(matches!(err, ManagementError::Store(_)));
}

#[test]
fn a_zero_multiplier_means_one_with_the_original_warning() {
    assert_eq!(zero_means_one(2.5), (2.5, None));
    assert_eq!(
        zero_means_one(0.0),
        (
            1.0,
            Some("WARNING! Load-multiplier was not readable or 0, so it is now 1".to_owned())
        )
    );
}
