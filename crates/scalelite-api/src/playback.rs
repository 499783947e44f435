//! Recording playback (`docs/compatibility.md#playback`): the one-time links of protected recordings and the resource
//! route that lets nginx serve a recording's files once the API has said yes.
//!
//! - `GET /recording/<record_id>/<format>?token=<64 hex>` (**play**): consume the token, set the access cookie
//!   `recording_<format>_<record_id>` (an HS256 JWT signed with `SECRET_KEY_BASE`, path `/<format>/<record_id>`),
//!   and redirect (307) to the format's playback URL.
//! - `GET /<format>/<record_id>[/<resource>]` (**resource**), for each `RECORDING_PLAYBACK_FORMATS` entry: check
//!   that the recording is published, belongs to the tenant and, when protected, that the cookie is valid; then
//!   answer 200 with `X-Accel-Redirect: /static-resource/<format>/<record_id>/<resource>` so nginx serves the file
//!   from `RECORDING_PUBLISH_DIR` (its internal `/static-resource/` location).
//!
//! Every refusal is the same 404 page, so a caller learns nothing about why. Path segments are percent-decoded and
//! checked with `paths::is_safe_segment` before they reach the `X-Accel-Redirect` path, which is rebuilt from the
//! checked segments: nothing a request sends can point nginx outside the recording's directory.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scalelite_core::domain::{PlaybackFormat, Recording, Tenant};
use scalelite_core::jwt::{self, JwtAlgorithm};
use scalelite_core::paths::is_safe_segment;
use scalelite_core::storage::{MiscStore, RecordingStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::request;
use crate::settings::Settings;
use crate::state::AppState;

/// The internal nginx location that serves `RECORDING_PUBLISH_DIR` (the original's name).
pub const STATIC_RESOURCE_PREFIX: &str = "/static-resource";

/// Formats whose files are shown in the browser; every other format's files are downloads.
const INLINE_FORMATS: [&str; 3] = ["presentation", "video", "screenshare"];

/// The original's "Recording Not Found" page (config/locales/en.yml).
const NOT_FOUND_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n\
<title>Recording Not Found</title>\n</head>\n<body>\n<h1>Recording Not Found</h1>\n\
<h3>The recording URL is invalid. This recording may have been either protected or deleted.</h3>\n</body>\n</html>\n";

/// Claims of the access cookie. Both are required when reading a cookie back.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct AccessClaims {
    sub: String,
    exp: i64,
}

/// Why a playback request is refused: the 404 page, or an API error (unknown tenant, storage failure).
enum Refusal {
    NotFound,
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => Refusal::NotFound,
            e => Refusal::Api(e.into()),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotFound => not_found(),
            Refusal::Api(e) => e.into_response(),
        }
    }
}

/// The 404 page every refused playback request gets.
pub fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, NOT_FOUND_PAGE).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// `GET /recording/{record_id}/{format}?token=...`.
pub async fn play(State(state): State<AppState>, request: Request) -> Response {
    if state.settings.recording_disabled {
        return ApiError::UnsupportedRequest.into_response();
    }
    let Some(segments) = path_segments(request.uri().path()) else {
        return not_found();
    };
    let [_, record_id, format] = segments.as_slice() else {
        return not_found();
    };
    let token = query_value(request.uri().query(), "token");
    match play_checked(
        &state,
        request.headers(),
        record_id,
        format,
        token.as_deref(),
    )
    .await
    {
        Ok(response) => response,
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /{format}/{record_id}[/{*resource}]` for the configured playback formats.
pub async fn resource(State(state): State<AppState>, request: Request) -> Response {
    let Some(segments) = path_segments(request.uri().path()) else {
        return not_found();
    };
    let (Some(format), Some(record_id)) = (segments.first(), segments.get(1)) else {
        return ApiError::UnsupportedRequest.into_response();
    };
    if state.settings.recording_disabled || !state.settings.playback_formats.contains(format) {
        return ApiError::UnsupportedRequest.into_response();
    }
    let resource = &segments[2..];
    let trailing_slash = request.uri().path().ends_with('/');
    match resource_checked(&state, request.headers(), format, record_id).await {
        Ok(()) if cloudfront_wanted(&state.settings, request.headers(), request.uri().path()) => {
            cloudfront_redirect(&state.settings, request.headers(), format, record_id)
        }
        Ok(()) => accel_redirect(
            format,
            record_id,
            resource,
            trailing_slash,
            request.uri().query(),
        ),
        Err(refusal) => refusal.into_response(),
    }
}

async fn play_checked(
    state: &AppState,
    headers: &HeaderMap,
    record_id: &str,
    format: &str,
    token: Option<&str>,
) -> Result<Response, Refusal> {
    let (recording, playback) = visible_format(state, headers, record_id, format).await?;
    let mut cookie = None;
    if recording.protected {
        let token = token.filter(|t| is_token(t)).ok_or(Refusal::NotFound)?;
        let (token_record, token_format) = state
            .store
            .take_playback_token(token)
            .await?
            .ok_or(Refusal::NotFound)?;
        if token_record != recording.record_id || token_format != playback.format {
            return Err(Refusal::NotFound);
        }
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        cookie = Some(access_cookie(
            &state.settings,
            &recording.record_id,
            &playback.format,
            now_epoch_seconds(),
            same_site_none_compatible(user_agent),
        ));
    }
    let location = format!("{}{}", request::url_prefix(headers), playback.url);
    let location = HeaderValue::from_str(&location).map_err(|_| Refusal::NotFound)?;
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    if let Some(cookie) = cookie {
        let cookie = HeaderValue::from_str(&cookie).map_err(|_| Refusal::NotFound)?;
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

async fn resource_checked(
    state: &AppState,
    headers: &HeaderMap,
    format: &str,
    record_id: &str,
) -> Result<(), Refusal> {
    let (recording, playback) = visible_format(state, headers, record_id, format).await?;
    if state.settings.protected_recordings && recording.protected {
        let name = cookie_name(&playback.format, &recording.record_id);
        let value = cookie_value(headers, &name).ok_or(Refusal::NotFound)?;
        if !valid_access_cookie(
            &state.settings,
            value,
            &playback.format,
            &recording.record_id,
            now_epoch_seconds(),
        ) {
            return Err(Refusal::NotFound);
        }
    }
    Ok(())
}

/// The recording and its `format`, if the recording is published and visible to the request's tenant.
async fn visible_format(
    state: &AppState,
    headers: &HeaderMap,
    record_id: &str,
    format: &str,
) -> Result<(Recording, PlaybackFormat), Refusal> {
    let tenant = request::resolve_tenant(state, headers).await?;
    if !is_safe_segment(record_id) || !is_safe_segment(format) {
        return Err(Refusal::NotFound);
    }
    let mut recording = state.store.get_recording(record_id).await?;
    let position = recording
        .playback_formats
        .iter()
        .position(|f| f.format == format)
        .ok_or(Refusal::NotFound)?;
    if !recording.published || !visible_to(&recording, tenant.as_ref()) {
        return Err(Refusal::NotFound);
    }
    let playback = recording.playback_formats.swap_remove(position);
    Ok((recording, playback))
}

fn visible_to(recording: &Recording, tenant: Option<&Tenant>) -> bool {
    match tenant {
        None => true,
        Some(tenant) => recording
            .metadata
            .iter()
            .any(|(k, v)| k == "tenant-id" && *v == tenant.id),
    }
}

/// 200, empty, with the internal redirect nginx serves the file from.
fn accel_redirect(
    format: &str,
    record_id: &str,
    resource: &[String],
    trailing_slash: bool,
    query: Option<&str>,
) -> Response {
    let mut path = format!(
        "{STATIC_RESOURCE_PREFIX}/{}/{}",
        encode_segment(format),
        encode_segment(record_id)
    );
    for segment in resource {
        path.push('/');
        path.push_str(&encode_segment(segment));
    }
    if trailing_slash {
        path.push('/');
    }
    if let Some(query) = query {
        path.push('?');
        path.push_str(query);
    }
    let Ok(value) = HeaderValue::from_str(&path) else {
        return not_found();
    };
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().insert("x-accel-redirect", value);
    if !INLINE_FORMATS.contains(&format) {
        response.headers_mut().insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment"),
        );
    }
    response
}

/// CloudFront mode (`CLOUDFRONT_URL`) and a request that negotiates HTML.
fn cloudfront_wanted(settings: &Settings, headers: &HeaderMap, path: &str) -> bool {
    settings.cloudfront.is_some()
        && crate::cloudfront::negotiates_html(
            headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()),
            path,
        )
}

/// 307 to the recording's `index.html` on CloudFront, with the three signed cookies valid for five minutes
/// (`Domain` the request's registrable domain, `Path=/`, `Secure`, `HttpOnly`, `SameSite=None`).
fn cloudfront_redirect(
    settings: &Settings,
    headers: &HeaderMap,
    format: &str,
    record_id: &str,
) -> Response {
    let Some(cloudfront) = &settings.cloudfront else {
        return not_found();
    };
    let now = now_epoch_seconds();
    let expires = now.saturating_add(crate::cloudfront::COOKIE_TTL_SECONDS);
    let cookies = cloudfront.signed_cookies(format, record_id, expires);
    let expires_at = chrono::DateTime::from_timestamp(expires, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT");
    let host = request::request_host(headers).unwrap_or_default();
    let domain = crate::cloudfront::cookie_domain(&host)
        .map(|d| format!("; domain={d}"))
        .unwrap_or_default();
    let location = format!("{}index.html", cloudfront.recording_url(format, record_id));
    let Ok(location) = HeaderValue::from_str(&location) else {
        return not_found();
    };
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    response.headers_mut().insert(header::LOCATION, location);
    for (name, value) in [
        ("CloudFront-Policy", &cookies.policy),
        ("CloudFront-Signature", &cookies.signature),
        ("CloudFront-Key-Pair-Id", &cookies.key_pair_id),
    ] {
        let cookie = format!(
            "{name}={value}{domain}; path=/; expires={expires_at}; secure; HttpOnly; SameSite=None"
        );
        match HeaderValue::from_str(&cookie) {
            Ok(cookie) => {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            Err(_) => return not_found(),
        }
    }
    response
}

/// `recording_<format>_<record_id>`.
fn cookie_name(format: &str, record_id: &str) -> String {
    format!("recording_{format}_{record_id}")
}

/// The `Set-Cookie` value granting access to `/<format>/<record_id>` for `PROTECTED_RECORDINGS_TIMEOUT`.
fn access_cookie(
    settings: &Settings,
    record_id: &str,
    format: &str,
    now: i64,
    same_site_none: bool,
) -> String {
    let path = format!("/{format}/{record_id}");
    let ttl = i64::try_from(settings.protected_cookie_ttl.as_secs()).unwrap_or(i64::MAX);
    let claims = AccessClaims {
        sub: path.clone(),
        exp: now.saturating_add(ttl),
    };
    let token = jwt::encode(
        &claims,
        settings.secret_key_base.expose().as_bytes(),
        JwtAlgorithm::Hs256,
    );
    let mut cookie = format!(
        "{}={token}; path={}; secure; HttpOnly",
        cookie_name(format, record_id),
        encode_path(&path)
    );
    if same_site_none {
        cookie.push_str("; SameSite=None");
    }
    cookie
}

/// Whether `value` is an unexpired access cookie for exactly `/<format>/<record_id>`.
fn valid_access_cookie(
    settings: &Settings,
    value: &str,
    format: &str,
    record_id: &str,
    now: i64,
) -> bool {
    let secret = settings.secret_key_base.expose().as_bytes();
    match jwt::decode::<AccessClaims>(value, secret, JwtAlgorithm::Hs256, now) {
        Ok(claims) => claims.sub == format!("/{format}/{record_id}"),
        Err(_) => false,
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// 64 lower-case hex digits.
fn is_token(token: &str) -> bool {
    token.len() == 64
        && token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The percent-decoded segments of a path (without the leading `/`; a trailing `/` adds no segment). `None` if a
/// segment does not decode to UTF-8 or is not a safe segment (`..`, `.`, an empty segment in the middle, a `/`,
/// `\` or NUL after decoding).
fn path_segments(path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let path = path.strip_suffix('/').unwrap_or(path);
    path.split('/')
        .map(|raw| {
            let segment = percent_decode(raw)?;
            is_safe_segment(&segment).then_some(segment)
        })
        .collect()
}

/// The decoded value of `name` in a query string (`+` is a space), the last occurrence winning.
fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(&k.replace('+', " "))?;
            (k == name).then(|| percent_decode(&v.replace('+', " ")))?
        })
        .next_back()
}

fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Percent-encode one path segment: everything but `A-Z a-z 0-9 - . _ ~` becomes `%XX`.
pub(crate) fn encode_segment(segment: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(segment.len());
    for &byte in segment.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// A `/`-separated path with each segment encoded.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

fn now_epoch_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a browser with this `User-Agent` handles `SameSite=None` (Chromium's list of incompatible clients:
/// iOS 12, Safari and embedded WebKit on macOS 10.14, UC Browser before 12.13.2, Chrome/Chromium 51 to 66).
/// Incompatible browsers get the cookie without the attribute.
fn same_site_none_compatible(user_agent: &str) -> bool {
    !(ios_12(user_agent)
        || (macos_10_14(user_agent) && (safari(user_agent) || mac_embedded_browser(user_agent)))
        || chromium_51_to_66(user_agent)
        || uc_browser_before_12_13_2(user_agent))
}

fn ios_12(ua: &str) -> bool {
    ["iPhone OS 12_", "iPad; CPU OS 12_"]
        .iter()
        .any(|marker| ua.contains(marker))
}

fn macos_10_14(ua: &str) -> bool {
    ua.contains("Macintosh; Intel Mac OS X 10_14")
}

fn safari(ua: &str) -> bool {
    ua.contains("Version/") && ua.contains("Safari") && !chromium_based(ua)
}

fn mac_embedded_browser(ua: &str) -> bool {
    ua.starts_with("Mozilla/") && ua.contains("AppleWebKit/") && ua.ends_with("(KHTML, like Gecko)")
}

fn chromium_based(ua: &str) -> bool {
    ua.contains("Chrome") || ua.contains("Chromium")
}

fn chromium_51_to_66(ua: &str) -> bool {
    ["Chrome/", "Chromium/"].iter().any(|marker| {
        ua.split(marker)
            .nth(1)
            .and_then(|rest| version(rest).first().copied())
            .is_some_and(|major| (51..=66).contains(&major))
    })
}

fn uc_browser_before_12_13_2(ua: &str) -> bool {
    let Some(rest) = ua.split("UCBrowser/").nth(1) else {
        return false;
    };
    let parts = version(rest);
    let (major, minor, build) = (
        parts.first().copied().unwrap_or(0),
        parts.get(1).copied().unwrap_or(0),
        parts.get(2).copied().unwrap_or(0),
    );
    (major, minor, build) < (12, 13, 2)
}

/// The dotted numbers at the start of `text` (`66.0.3359` gives `[66, 0, 3359]`).
fn version(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit() && c != '.')
        .next()
        .unwrap_or_default()
        .split('.')
        .map_while(|part| part.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests;
