use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use serde_json::json;

use crate::callbacks::{bearer_token, parameters};
use crate::request::Incoming;

fn headers(authorization: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(authorization).unwrap(),
    );
    headers
}

#[test]
fn bearer_token_needs_the_scheme_and_a_value() {
    assert_eq!(
        bearer_token(&headers("Bearer abc.def.ghi")),
        Some("abc.def.ghi")
    );
    assert_eq!(bearer_token(&headers("Bearer ")), None);
    assert_eq!(bearer_token(&headers("Basic abc")), None);
    assert_eq!(bearer_token(&HeaderMap::new()), None);
}

fn params_of(body: &str, query: Option<&str>) -> Option<serde_json::Value> {
    let headers = HeaderMap::new();
    let incoming = Incoming {
        method: &Method::POST,
        headers: &headers,
        raw_query: query,
        body: Bytes::from(body.to_owned()),
    };
    parameters(&incoming).ok().map(serde_json::Value::Object)
}

#[test]
fn parameters_take_the_json_body_and_let_the_query_win() {
    assert_eq!(
        params_of(r#"{"meeting_id":"m1","data":{"duration":3}}"#, None),
        Some(json!({"meeting_id": "m1", "data": {"duration": 3}}))
    );
    assert_eq!(
        params_of(r#"{"meeting_id":"m1","x":1}"#, Some("meeting_id=m2")),
        Some(json!({"meeting_id": "m2", "x": 1}))
    );
    assert_eq!(
        params_of("", Some("meeting_id=m3")),
        Some(json!({"meeting_id": "m3"}))
    );
    assert_eq!(
        params_of("meeting_id=m4&a=b", None),
        Some(json!({"meeting_id": "m4", "a": "b"}))
    );
}
