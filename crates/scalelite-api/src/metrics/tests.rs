use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;

use crate::error::ApiError;
use crate::metrics::{Metrics, call_label, outcome};

#[test]
fn call_labels_are_a_fixed_set() {
    let cases = [
        ("/bigbluebutton/api/create", Some("create")),
        ("/bigbluebutton/api/getRecordings", Some("getRecordings")),
        (
            "/bigbluebutton/api/analytics_callback",
            Some("analytics_callback"),
        ),
        ("/bigbluebutton/api/nonsense-123", Some("unsupported")),
        ("/bigbluebutton/api/getMeetings.xml", Some("unsupported")),
        ("/bigbluebutton/api", Some("index")),
        ("/bigbluebutton/api/", Some("index")),
        ("/health_check", Some("health_check")),
        ("/", Some("health_check")),
        ("/fsapi", Some("fsapi")),
        ("/presentation/abc/index.html", Some("other")),
        ("/metrics", None),
    ];
    for (path, expected) in cases {
        assert_eq!(call_label(path), expected, "{path}");
    }
}

#[test]
fn outcome_is_the_message_key_or_success_or_the_status() {
    assert_eq!(
        outcome(&ApiError::Checksum.into_response()),
        "checksumError"
    );
    assert_eq!(
        outcome(&ApiError::Internal("x".into()).into_response()),
        "internalError"
    );
    assert_eq!(outcome(&"ok".into_response()), "SUCCESS");
    assert_eq!(outcome(&StatusCode::FOUND.into_response()), "SUCCESS");
    assert_eq!(outcome(&StatusCode::NO_CONTENT.into_response()), "SUCCESS");
    let bbb = |key: &str| {
        ApiError::Bbb {
            key: key.into(),
            message: "m".into(),
        }
        .into_response()
    };
    assert_eq!(outcome(&bbb("idNotUnique")), "idNotUnique");
    assert_eq!(outcome(&bbb("<script>")), "otherError");
    assert_eq!(outcome(&bbb(&"x".repeat(65))), "otherError");
    assert_eq!(outcome(&bbb("")), "otherError");
    let forbidden: Response = StatusCode::FORBIDDEN.into_response();
    assert_eq!(outcome(&forbidden), "403");
}

#[test]
fn observations_are_counted_and_encoded() {
    let metrics = Metrics::default();
    metrics.observe("create", "SUCCESS", Duration::from_millis(3));
    metrics.observe("create", "SUCCESS", Duration::from_millis(5));
    metrics.observe("create", "checksumError", Duration::from_millis(1));
    assert_eq!(metrics.count("create", "SUCCESS"), 2);
    assert_eq!(metrics.count("create", "checksumError"), 1);
    assert_eq!(metrics.count("join", "SUCCESS"), 0);
    let mut text = String::new();
    encode(&mut text, &metrics.registry).unwrap();
    assert!(
        text.contains("scalelite_api_requests_total{call=\"create\",outcome=\"SUCCESS\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("scalelite_api_request_duration_seconds_count{call=\"create\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE scalelite_api_request_duration_seconds histogram"),
        "{text}"
    );
}
