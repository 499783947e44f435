//! A minimal S3 client for recording storage (`S3_RECORDING`): put, list (ListObjectsV2) and delete objects, signed
//! with AWS Signature Version 4.
//!
//! Written over `reqwest` with `hmac` and `sha2` instead of the AWS SDK, which is far too heavy for what the
//! importer and deleteRecordings need. Requests go to `https://<bucket>.s3.<region>.amazonaws.com/<key>`
//! (virtual-hosted style), or to `<AWS_ENDPOINT_URL>/<bucket>/<key>` (path style) when an endpoint is configured
//! (MinIO, Ceph, a test server). Credentials are static (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
//! `AWS_SESSION_TOKEN`); instance profiles and credential files are not read.
//!
//! [`signature`] is the pure signing step (no I/O, no clock) and is checked against AWS's documented example.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::config::RecordingArgs;
use crate::domain::Secret;

/// Connect timeout of every S3 request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence while reading a response (uploads of large files may take longer in total, so there is no
/// overall timeout).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Overall timeout of the small requests (list, delete).
const SMALL_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// ListObjectsV2 pages followed at most (1000 keys each), a guard against a server that never stops.
const MAX_LIST_PAGES: usize = 10_000;
/// The SHA-256 of an empty payload.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why an S3 call failed.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// The configuration cannot be used (missing credentials or bucket, bad endpoint URL).
    #[error("S3 configuration: {0}")]
    Config(String),
    /// The request did not get an answer (connection refused, DNS, TLS, timeout).
    #[error("S3 {operation} {key}: could not reach S3: {message}")]
    Transport {
        /// `PUT`, `LIST` or `DELETE`.
        operation: &'static str,
        /// The object key or list prefix.
        key: String,
        /// The cause.
        message: String,
    },
    /// S3 answered with an error status.
    #[error("S3 {operation} {key}: HTTP {status} {code}: {message}")]
    Status {
        /// `PUT`, `LIST` or `DELETE`.
        operation: &'static str,
        /// The object key or list prefix.
        key: String,
        /// The HTTP status.
        status: u16,
        /// S3's error code (`AccessDenied`, `NoSuchBucket`, ...), empty when the body had none.
        code: String,
        /// S3's error message, empty when the body had none.
        message: String,
    },
    /// A ListObjectsV2 answer could not be read.
    #[error("S3 LIST {prefix}: unreadable answer: {message}")]
    BadListing {
        /// The list prefix.
        prefix: String,
        /// What was wrong.
        message: String,
    },
}

/// Static AWS credentials. The secret parts never show in `Debug`.
#[derive(Clone, Debug)]
pub struct S3Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Secret,
    /// `AWS_SESSION_TOKEN` (temporary credentials), sent as `x-amz-security-token`.
    pub session_token: Option<Secret>,
}

/// An S3 client for one region (or one S3-compatible endpoint). Cheap to clone.
#[derive(Clone)]
pub struct S3Client {
    http: reqwest::Client,
    region: String,
    credentials: S3Credentials,
    endpoint: Option<url::Url>,
}

impl fmt::Debug for S3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client")
            .field("region", &self.region)
            .field("access_key_id", &self.credentials.access_key_id)
            .field(
                "endpoint",
                &self
                    .endpoint
                    .as_ref()
                    .map(|u| crate::config::redact_url(u.as_str())),
            )
            .finish_non_exhaustive()
    }
}

/// The bucket recordings live in (`S3_BUCKET_NAME`) and the client that reaches it.
#[derive(Clone, Debug)]
pub struct S3Bucket {
    /// The client.
    pub client: S3Client,
    /// The bucket name.
    pub bucket: String,
}

impl S3Bucket {
    /// The recording bucket when `S3_RECORDING` is on, `None` when it is off.
    ///
    /// # Errors
    /// [`S3Error::Config`] when S3_RECORDING is on but S3_BUCKET_NAME, AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY is
    /// missing, or AWS_ENDPOINT_URL is not an http(s) URL.
    pub fn from_config(recording: &RecordingArgs) -> Result<Option<S3Bucket>, S3Error> {
        if !recording.s3_recording {
            return Ok(None);
        }
        let bucket = recording.s3_bucket_name.clone().ok_or_else(|| {
            S3Error::Config("S3_RECORDING is set but S3_BUCKET_NAME is not".into())
        })?;
        let access_key_id = recording.aws_access_key_id.clone().ok_or_else(|| {
            S3Error::Config("S3_RECORDING is set but AWS_ACCESS_KEY_ID is not".into())
        })?;
        let secret_access_key = recording.aws_secret_access_key.clone().ok_or_else(|| {
            S3Error::Config("S3_RECORDING is set but AWS_SECRET_ACCESS_KEY is not".into())
        })?;
        let client = S3Client::from_env_config(
            &recording.aws_region,
            &access_key_id,
            secret_access_key,
            recording.aws_session_token.clone(),
            recording.aws_endpoint_url.as_deref(),
        )?;
        Ok(Some(S3Bucket { client, bucket }))
    }
}

impl S3Client {
    /// A client for `region` with static credentials; with `endpoint_url` requests go path-style to that endpoint
    /// instead of AWS.
    ///
    /// # Errors
    /// [`S3Error::Config`] when the region or access key id is empty or the endpoint is not an http(s) URL.
    pub fn from_env_config(
        region: &str,
        access_key_id: &str,
        secret_access_key: Secret,
        session_token: Option<Secret>,
        endpoint_url: Option<&str>,
    ) -> Result<Self, S3Error> {
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(S3Error::Config(format!("invalid AWS_REGION {region:?}")));
        }
        if access_key_id.is_empty() {
            return Err(S3Error::Config("AWS_ACCESS_KEY_ID is empty".into()));
        }
        let endpoint = endpoint_url
            .map(|raw| {
                let url = url::Url::parse(raw.trim_end_matches('/'))
                    .map_err(|_| S3Error::Config("AWS_ENDPOINT_URL is not a URL".into()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(S3Error::Config(
                        "AWS_ENDPOINT_URL must be an http:// or https:// URL".into(),
                    ));
                }
                Ok(url)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scalelite-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| S3Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            http,
            region: region.to_owned(),
            credentials: S3Credentials {
                access_key_id: access_key_id.to_owned(),
                secret_access_key,
                session_token,
            },
            endpoint,
        })
    }

    /// Upload `body` as `key` (PutObject), with its `Content-Type` and, when given, `Content-Disposition`.
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`].
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        content_disposition: Option<&str>,
    ) -> Result<(), S3Error> {
        let payload_hash = hex::encode(Sha256::digest(&body));
        let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
        if let Some(disposition) = content_disposition {
            headers.push(("content-disposition".to_owned(), disposition.to_owned()));
        }
        let request = self.signed(
            reqwest::Method::PUT,
            bucket,
            key,
            &[],
            headers,
            &payload_hash,
        )?;
        let response = request
            .body(body)
            .send()
            .await
            .map_err(transport("PUT", key))?;
        check(response, "PUT", key).await.map(drop)
    }

    /// Every key under `prefix` (ListObjectsV2, following continuation tokens), in S3's order.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadListing`].
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, S3Error> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut query = vec![
                ("list-type".to_owned(), "2".to_owned()),
                ("prefix".to_owned(), prefix.to_owned()),
            ];
            if let Some(token) = &token {
                query.push(("continuation-token".to_owned(), token.clone()));
            }
            let response = self
                .signed(
                    reqwest::Method::GET,
                    bucket,
                    "",
                    &query,
                    Vec::new(),
                    EMPTY_SHA256,
                )?
                .timeout(SMALL_REQUEST_TIMEOUT)
                .send()
                .await
                .map_err(transport("LIST", prefix))?;
            let body = check(response, "LIST", prefix).await?;
            let page = parse_listing(&body).map_err(|message| S3Error::BadListing {
                prefix: prefix.to_owned(),
                message,
            })?;
            keys.extend(page.keys);
            match (page.truncated, page.next_token) {
                (true, Some(next)) => token = Some(next),
                (true, None) => {
                    return Err(S3Error::BadListing {
                        prefix: prefix.to_owned(),
                        message: "truncated without a NextContinuationToken".into(),
                    });
                }
                (false, _) => return Ok(keys),
            }
        }
        Err(S3Error::BadListing {
            prefix: prefix.to_owned(),
            message: format!("more than {MAX_LIST_PAGES} pages"),
        })
    }

    /// Delete `key` (DeleteObject). Deleting a missing key succeeds, as in S3.
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`].
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        let response = self
            .signed(
                reqwest::Method::DELETE,
                bucket,
                key,
                &[],
                Vec::new(),
                EMPTY_SHA256,
            )?
            .timeout(SMALL_REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(transport("DELETE", key))?;
        check(response, "DELETE", key).await.map(drop)
    }

    /// A request with its `Authorization` header. `query` is unencoded; `headers` are lower-case names.
    fn signed(
        &self,
        method: reqwest::Method,
        bucket: &str,
        key: &str,
        query: &[(String, String)],
        mut headers: Vec<(String, String)>,
        payload_hash: &str,
    ) -> Result<reqwest::RequestBuilder, S3Error> {
        let (base, path) = match &self.endpoint {
            Some(endpoint) => {
                let base_path = endpoint.path().trim_end_matches('/');
                let bucket = uri_encode(bucket, true);
                let path = if key.is_empty() {
                    format!("{base_path}/{bucket}")
                } else {
                    format!("{base_path}/{bucket}/{}", uri_encode(key, false))
                };
                (endpoint.clone(), path)
            }
            None => {
                if bucket.is_empty()
                    || !bucket
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
                {
                    return Err(S3Error::Config(format!("invalid bucket name {bucket:?}")));
                }
                let host = format!("https://{bucket}.s3.{}.amazonaws.com", self.region);
                let url = url::Url::parse(&host)
                    .map_err(|_| S3Error::Config(format!("invalid bucket name {bucket:?}")))?;
                (url, format!("/{}", uri_encode(key, false)))
            }
        };
        let host = match (base.host_str(), base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(S3Error::Config("the S3 URL has no host".into())),
        };
        let canonical_query = canonical_query(query);
        let mut url = base;
        url.set_path(&path);
        url.set_query((!canonical_query.is_empty()).then_some(canonical_query.as_str()));

        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        headers.push(("host".to_owned(), host));
        headers.push(("x-amz-content-sha256".to_owned(), payload_hash.to_owned()));
        headers.push(("x-amz-date".to_owned(), amz_date.clone()));
        if let Some(token) = &self.credentials.session_token {
            headers.push(("x-amz-security-token".to_owned(), token.expose().to_owned()));
        }
        let request = CanonicalRequest {
            method: method.as_str(),
            path: url.path(),
            query: &canonical_query,
            headers: &headers,
            payload_hash,
        };
        let signed = signature(
            &request,
            &amz_date,
            &self.region,
            &self.credentials.secret_access_key,
        );
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
            self.credentials.access_key_id, signed.scope, signed.signed_headers, signed.signature
        );
        let mut builder = self.http.request(method, url.as_str());
        for (name, value) in &headers {
            if name != "host" {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        Ok(builder.header("authorization", authorization))
    }
}

/// The parts of a request that Signature V4 covers.
#[derive(Clone, Copy, Debug)]
pub struct CanonicalRequest<'a> {
    /// `GET`, `PUT`, `DELETE`, ...
    pub method: &'a str,
    /// The URI path exactly as sent (already percent-encoded).
    pub path: &'a str,
    /// The canonical query string (see [`canonical_query`]), empty when there is none.
    pub query: &'a str,
    /// Every signed header as (lower-case name, value), `host` included; any order.
    pub headers: &'a [(String, String)],
    /// Hex SHA-256 of the payload (or `UNSIGNED-PAYLOAD`).
    pub payload_hash: &'a str,
}

/// A Signature V4 result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// `<date>/<region>/s3/aws4_request`.
    pub scope: String,
    /// The signed header names, sorted, `;`-separated.
    pub signed_headers: String,
    /// The hex signature.
    pub signature: String,
}

/// Sign `request` at `amz_date` (`YYYYMMDDTHHMMSSZ`) for S3 in `region` (AWS Signature Version 4). Pure: no clock,
/// no I/O.
pub fn signature(
    request: &CanonicalRequest<'_>,
    amz_date: &str,
    region: &str,
    secret_access_key: &Secret,
) -> Signed {
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    headers.sort();
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{}",
        request.method, request.path, request.query, request.payload_hash
    );
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(
        format!("AWS4{}", secret_access_key.expose()).as_bytes(),
        date.as_bytes(),
    );
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, b"s3");
    let key = hmac(&key, b"aws4_request");
    Signed {
        scope,
        signed_headers,
        signature: hex::encode(hmac(&key, string_to_sign.as_bytes())),
    }
}

/// The canonical query string: each name and value URI-encoded, sorted by name then value, joined with `&`.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = pairs
        .iter()
        .map(|(name, value)| (uri_encode(name, true), uri_encode(value, true)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// AWS's URI encoding: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX` (upper-case hex); `/` too when
/// `encode_slash`.
pub fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// One page of a ListObjectsV2 answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ListingPage {
    /// The keys of `Contents/Key`.
    pub keys: Vec<String>,
    /// `IsTruncated`.
    pub truncated: bool,
    /// `NextContinuationToken`.
    pub next_token: Option<String>,
}

/// Read a ListObjectsV2 answer.
///
/// # Errors
/// A description of what is wrong when the XML is malformed or not a `ListBucketResult`.
pub fn parse_listing(xml: &str) -> Result<ListingPage, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut page = ListingPage::default();
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != "ListBucketResult" {
                        return Err(format!("unexpected root element {name}"));
                    }
                    saw_root = true;
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| e.to_string())?.into_owned();
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                match at.as_slice() {
                    ["ListBucketResult", "Contents", "Key"] => page.keys.push(text),
                    ["ListBucketResult", "IsTruncated"] => page.truncated = text.trim() == "true",
                    ["ListBucketResult", "NextContinuationToken"] => {
                        page.next_token = Some(text);
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if saw_root {
        Ok(page)
    } else {
        Err("no ListBucketResult element".into())
    }
}

/// `Code` and `Message` of an S3 error document (empty when absent).
fn parse_error(xml: &str) -> (String, String) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut code, mut message) = (String::new(), String::new());
    let mut current = String::new();
    while let Ok(event) = reader.read_event() {
        match event {
            Event::Start(start) => {
                current = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
            }
            Event::End(_) => current.clear(),
            Event::Text(text) => {
                let text = text.unescape().map(|t| t.into_owned()).unwrap_or_default();
                match current.as_str() {
                    "Code" => code = text,
                    "Message" => message = text,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (code, message)
}

/// The body of a successful answer, or [`S3Error::Status`].
async fn check(
    response: reqwest::Response,
    operation: &'static str,
    key: &str,
) -> Result<String, S3Error> {
    let status = response.status();
    let body = response.text().await.map_err(transport(operation, key))?;
    if status.is_success() {
        return Ok(body);
    }
    let (code, message) = parse_error(&body);
    Err(S3Error::Status {
        operation,
        key: key.to_owned(),
        status: status.as_u16(),
        code,
        message,
    })
}

fn transport(operation: &'static str, key: &str) -> impl FnOnce(reqwest::Error) -> S3Error {
    let key = key.to_owned();
    move |e| S3Error::Transport {
        operation,
        key,
        // Without the URL: it is harmless, but the message is clearer without it.
        message: e.without_url().to_string(),
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The key prefix of one format of a recording in the bucket: `published/<format>/<record_id>/` or
/// `unpublished/<format>/<record_id>/` (`docs/compatibility.md#importer-s3`).
pub fn recording_prefix(published: bool, format: &str, record_id: &str) -> String {
    let tree = if published {
        "published"
    } else {
        "unpublished"
    };
    format!("{tree}/{format}/{record_id}/")
}

/// The Content-Type the original gives an uploaded recording file, from its extension
/// (`application/octet-stream` when unknown), and whether it is sent as an attachment (`.pdf` and `.ogg`).
pub fn content_type_for(path: &str) -> (&'static str, Option<&'static str>) {
    let extension = path
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    let content_type = match extension.as_str() {
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "js" => "text/javascript",
        "json" => "application/json",
        "txt" => "text/plain",
        "vtt" => "text/vtt",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogg" => "audio/ogg",
        "m4a" => "audio/mp4",
        "mp3" => "audio/mpeg",
        "opus" => "audio/opus",
        "wav" => "audio/wav",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    };
    let disposition = matches!(extension.as_str(), "pdf" | "ogg").then_some("attachment");
    (content_type, disposition)
}

#[cfg(test)]
mod tests;
