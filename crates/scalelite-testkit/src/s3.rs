//! A tiny in-memory S3 for tests: path-style PutObject, GetObject, ListObjectsV2 (`GET /<bucket>?list-type=2&prefix=`,
//! two keys per page so continuation tokens are exercised), DeleteObject, CopyObject, and multipart uploads (create,
//! UploadPart and UploadPartCopy, complete with S3's 5 MiB minimum for all parts but the last, abort,
//! ListMultipartUploads). Faults on demand: fail everything, fail the next requests, or fail everything once some
//! parts are in (an importer that loses S3 in the middle of an upload).
//!
//! Every request must carry a well-formed AWS Signature V4 `Authorization` header for the one access key it knows,
//! and the server recomputes the signature with its own code (not `scalelite_core::s3`'s), so a signing bug on the
//! client side is caught here. A request that fails the check gets 403 `SignatureDoesNotMatch` and is counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use scalelite_core::domain::Secret;
use scalelite_core::s3::{MultipartSettings, S3Bucket, S3Client};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The access key id the fake accepts.
pub const ACCESS_KEY_ID: &str = "AKIDFAKES3TEST";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "fake/s3+secret/key";
/// The region its clients sign for by default (any region is accepted; see [`FakeS3::header_values`]).
pub const REGION: &str = "us-east-1";
/// Keys per ListObjectsV2 page.
const PAGE_SIZE: usize = 2;

/// A stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
}

#[derive(Default)]
struct Shared {
    /// (bucket, key) → object.
    objects: BTreeMap<(String, String), StoredObject>,
    /// `<METHOD> <path>?<query>` of every request, in order.
    log: Vec<String>,
    /// The headers of every request, in order.
    headers: Vec<HeaderMap>,
    /// Requests refused for their signature.
    rejected: usize,
    /// Answer every request with 500 from now on.
    failing: bool,
    /// Answer this many of the next requests with 500.
    fail_next: usize,
    /// Answer this many of the next UploadPart requests with 500.
    fail_parts: usize,
    /// After this many more successful UploadPart requests, answer every request with 500.
    fail_after_parts: Option<usize>,
    /// Multipart uploads in progress, by upload id.
    uploads: BTreeMap<String, Upload>,
    /// Upload ids handed out so far.
    upload_count: u64,
}

/// A multipart upload in progress.
struct Upload {
    bucket: String,
    key: String,
    content_type: Option<String>,
    content_disposition: Option<String>,
    /// Part number → (body, ETag).
    parts: BTreeMap<u32, (Vec<u8>, String)>,
}

/// S3's smallest part but the last.
const MIN_PART: usize = 5 * 1024 * 1024;

/// The fake; it stops when dropped.
pub struct FakeS3 {
    addr: std::net::SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: CancellationToken,
}

impl FakeS3 {
    /// Listen on a random 127.0.0.1 port.
    pub async fn start() -> FakeS3 {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let addr = listener.local_addr().expect("local address");
        let stop = CancellationToken::new();
        let signal = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { signal.cancelled().await })
                .await;
        });
        FakeS3 { addr, shared, stop }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A client of this fake for `bucket`, signing with `secret`.
    pub fn bucket_with_secret(&self, bucket: &str, secret: &str) -> S3Bucket {
        let client = S3Client::from_env_config(
            REGION,
            ACCESS_KEY_ID,
            Secret::new(secret),
            Some(Secret::new("session-token")),
            Some(&self.endpoint()),
        )
        .expect("a client of the fake S3");
        S3Bucket {
            client,
            bucket: bucket.to_owned(),
            multipart: MultipartSettings::default(),
        }
    }

    /// A correctly configured client of this fake for `bucket`.
    pub fn bucket(&self, bucket: &str) -> S3Bucket {
        self.bucket_with_secret(bucket, SECRET_ACCESS_KEY)
    }

    /// Store an object directly (no request).
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        self.lock().objects.insert(
            (bucket.to_owned(), key.to_owned()),
            StoredObject {
                body: body.to_vec(),
                content_type: None,
                content_disposition: None,
            },
        );
    }

    /// Every key of `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .objects
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// One object.
    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        self.lock()
            .objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }

    /// `<METHOD> <path>?<query>` of every request so far.
    pub fn log(&self) -> Vec<String> {
        self.lock().log.clone()
    }

    /// How many requests were refused for their signature.
    pub fn rejected(&self) -> usize {
        self.lock().rejected
    }

    /// The values of header `name` (lower case) of every request so far, in order (e.g. `authorization`, whose
    /// credential scope names the access key id and the region).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.lock()
            .headers
            .iter()
            .filter_map(|headers| headers.get(name))
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect()
    }

    /// Answer every request with 500 InternalError from now on.
    pub fn fail(&self) {
        self.lock().failing = true;
    }

    /// Answer requests normally again.
    pub fn recover(&self) {
        let mut shared = self.lock();
        shared.failing = false;
        shared.fail_next = 0;
        shared.fail_parts = 0;
        shared.fail_after_parts = None;
    }

    /// Answer the next `count` requests with 500 InternalError, then normally again.
    pub fn fail_next(&self, count: usize) {
        self.lock().fail_next = count;
    }

    /// Answer the next `count` UploadPart requests with 500 InternalError, then normally again.
    pub fn fail_next_parts(&self, count: usize) {
        self.lock().fail_parts = count;
    }

    /// Accept `parts` more UploadPart requests, then answer every request with 500 (until [`FakeS3::recover`]).
    pub fn fail_after_parts(&self, parts: usize) {
        self.lock().fail_after_parts = Some(parts);
    }

    /// The multipart uploads in progress as (key, upload id).
    pub fn uploads(&self, bucket: &str) -> Vec<(String, String)> {
        self.lock()
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == bucket)
            .map(|(id, u)| (u.key.clone(), id.clone()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for FakeS3 {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn handle(State(shared): State<Arc<Mutex<Shared>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 1 << 30).await {
        Ok(body) => body,
        Err(_) => return error(StatusCode::BAD_REQUEST, "IncompleteBody"),
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let shared = &mut *guard;
    shared.log.push(format!("{} {path}?{query}", parts.method));
    shared.headers.push(parts.headers.clone());
    if shared.failing {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
    }
    if shared.fail_next > 0 {
        shared.fail_next -= 1;
        return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError");
    }
    if let Err(why) = verify(&parts.method, &path, &query, &parts.headers, &body) {
        shared.rejected += 1;
        return (
            StatusCode::FORBIDDEN,
            format!("<Error><Code>SignatureDoesNotMatch</Code><Message>{why}</Message></Error>"),
        )
            .into_response();
    }
    let Some((bucket, key)) = split_path(&path) else {
        return error(StatusCode::BAD_REQUEST, "InvalidURI");
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let params = query_params(&query);
    let copy_source = header("x-amz-copy-source").and_then(|source| split_path(&source));
    let is_part = params.contains_key("partNumber") && params.contains_key("uploadId");
    match (parts.method.clone(), key.is_empty()) {
        (Method::PUT, false) if is_part && shared.fail_parts > 0 => {
            shared.fail_parts -= 1;
            error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
        }
        (Method::PUT, false) if is_part => {
            let number: u32 = params["partNumber"].parse().unwrap_or(0);
            let id = params["uploadId"].clone();
            let body = match &copy_source {
                None => body.to_vec(),
                Some(source) => {
                    let Some(object) = shared.objects.get(source) else {
                        return error(StatusCode::NOT_FOUND, "NoSuchKey");
                    };
                    match header("x-amz-copy-source-range")
                        .as_deref()
                        .and_then(parse_range)
                    {
                        Some((first, last)) if last < object.body.len() && first <= last => {
                            object.body[first..=last].to_vec()
                        }
                        Some(_) => return error(StatusCode::BAD_REQUEST, "InvalidRange"),
                        None => object.body.clone(),
                    }
                }
            };
            let Some(upload) = shared.uploads.get_mut(&id) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            if !(1..=10_000).contains(&number) || upload.key != key {
                return error(StatusCode::BAD_REQUEST, "InvalidArgument");
            }
            let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
            upload.parts.insert(number, (body, etag.clone()));
            if let Some(left) = shared.fail_after_parts.as_mut() {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    shared.failing = true;
                }
            }
            if copy_source.is_some() {
                (
                    StatusCode::OK,
                    format!(
                        "<CopyPartResult><ETag>{}</ETag></CopyPartResult>",
                        etag.replace('"', "&quot;")
                    ),
                )
                    .into_response()
            } else {
                ([("etag", etag)], StatusCode::OK).into_response()
            }
        }
        (Method::PUT, false) => {
            let object = match &copy_source {
                None => StoredObject {
                    body: body.to_vec(),
                    content_type: header("content-type"),
                    content_disposition: header("content-disposition"),
                },
                Some(source) => match shared.objects.get(source) {
                    Some(object) => object.clone(),
                    None => return error(StatusCode::NOT_FOUND, "NoSuchKey"),
                },
            };
            shared.objects.insert((bucket, key), object);
            if copy_source.is_some() {
                (
                    StatusCode::OK,
                    "<CopyObjectResult><ETag>&quot;x&quot;</ETag></CopyObjectResult>",
                )
                    .into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
        (Method::POST, false) if params.contains_key("uploads") => {
            shared.upload_count += 1;
            let id = format!("upload-{}", shared.upload_count);
            shared.uploads.insert(
                id.clone(),
                Upload {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    content_type: header("content-type"),
                    content_disposition: header("content-disposition"),
                    parts: BTreeMap::new(),
                },
            );
            (
                StatusCode::OK,
                format!(
                    "<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                    escape(&key)
                ),
            )
                .into_response()
        }
        (Method::POST, false) if params.contains_key("uploadId") => {
            let id = params["uploadId"].clone();
            let Some(upload) = shared.uploads.get(&id) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            let listed = completed_parts(&String::from_utf8_lossy(&body));
            if listed.is_empty() || !listed.windows(2).all(|w| w[0].0 < w[1].0) {
                return error(StatusCode::BAD_REQUEST, "InvalidPartOrder");
            }
            let mut assembled = Vec::new();
            for (i, (number, etag)) in listed.iter().enumerate() {
                match upload.parts.get(number) {
                    Some((part, stored)) if stored == etag => {
                        if i + 1 < listed.len() && part.len() < MIN_PART {
                            return error(StatusCode::BAD_REQUEST, "EntityTooSmall");
                        }
                        assembled.extend_from_slice(part);
                    }
                    _ => return error(StatusCode::BAD_REQUEST, "InvalidPart"),
                }
            }
            let Some(upload) = shared.uploads.remove(&id) else {
                return error(StatusCode::NOT_FOUND, "NoSuchUpload");
            };
            shared.objects.insert(
                (upload.bucket, upload.key),
                StoredObject {
                    body: assembled,
                    content_type: upload.content_type,
                    content_disposition: upload.content_disposition,
                },
            );
            (
                StatusCode::OK,
                "<CompleteMultipartUploadResult></CompleteMultipartUploadResult>",
            )
                .into_response()
        }
        (Method::DELETE, false) if params.contains_key("uploadId") => {
            match shared.uploads.remove(&params["uploadId"]) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => error(StatusCode::NOT_FOUND, "NoSuchUpload"),
            }
        }
        (Method::DELETE, false) => {
            shared.objects.remove(&(bucket, key));
            StatusCode::NO_CONTENT.into_response()
        }
        (Method::GET, false) => match shared.objects.get(&(bucket, key)) {
            Some(object) => (StatusCode::OK, object.body.clone()).into_response(),
            None => error(StatusCode::NOT_FOUND, "NoSuchKey"),
        },
        (Method::GET, true) if params.contains_key("uploads") => {
            let prefix = params.get("prefix").cloned().unwrap_or_default();
            let mut xml =
                String::from("<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>");
            for (id, upload) in &shared.uploads {
                if upload.bucket == bucket && upload.key.starts_with(&prefix) {
                    xml.push_str(&format!(
                        "<Upload><Key>{}</Key><UploadId>{id}</UploadId></Upload>",
                        escape(&upload.key)
                    ));
                }
            }
            xml.push_str("</ListMultipartUploadsResult>");
            (StatusCode::OK, xml).into_response()
        }
        (Method::GET, true) => {
            if params.get("list-type").map(String::as_str) != Some("2") {
                return error(StatusCode::BAD_REQUEST, "NotImplemented");
            }
            let prefix = params.get("prefix").cloned().unwrap_or_default();
            let after = params
                .get("continuation-token")
                .map(|t| String::from_utf8(hex::decode(t).unwrap_or_default()).unwrap_or_default());
            let matching: Vec<(&String, usize)> = shared
                .objects
                .iter()
                .filter(|((b, k), _)| *b == bucket && k.starts_with(&prefix))
                .filter(|((_, k), _)| after.as_ref().is_none_or(|a| k > a))
                .map(|((_, k), object)| (k, object.body.len()))
                .collect();
            let page: Vec<(&String, usize)> = matching.iter().take(PAGE_SIZE).copied().collect();
            let truncated = matching.len() > PAGE_SIZE;
            let mut xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{bucket}</Name><KeyCount>{}</KeyCount><IsTruncated>{truncated}</IsTruncated>",
                page.len()
            );
            if let (true, Some((last, _))) = (truncated, page.last()) {
                xml.push_str(&format!(
                    "<NextContinuationToken>{}</NextContinuationToken>",
                    hex::encode(last.as_bytes())
                ));
            }
            for (key, size) in page {
                xml.push_str(&format!(
                    "<Contents><Key>{}</Key><Size>{size}</Size></Contents>",
                    escape(key)
                ));
            }
            xml.push_str("</ListBucketResult>");
            (StatusCode::OK, xml).into_response()
        }
        _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `bytes=<first>-<last>`.
fn parse_range(range: &str) -> Option<(usize, usize)> {
    let (first, last) = range.strip_prefix("bytes=")?.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// (PartNumber, ETag) of every `Part` of a CompleteMultipartUpload body, in document order (a plain scan: the client
/// writes one element per line or none).
fn completed_parts(xml: &str) -> Vec<(u32, String)> {
    let mut parts = Vec::new();
    for chunk in xml.split("<Part>").skip(1) {
        let field = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            let start = chunk.find(&open)? + open.len();
            let end = chunk[start..].find(&close)? + start;
            Some(
                chunk[start..end]
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&"),
            )
        };
        if let (Some(number), Some(etag)) = (field("PartNumber"), field("ETag")) {
            parts.push((number.parse().unwrap_or(0), etag));
        }
    }
    parts
}

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        format!("<Error><Code>{code}</Code><Message>fake S3</Message></Error>"),
    )
        .into_response()
}

/// `/<bucket>` or `/<bucket>/<key>`, percent-decoded.
fn split_path(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix('/')?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((decode(bucket)?, decode(key)?))
}

fn query_params(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(name)?, decode(value)?))
        })
        .collect()
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Check the request's Signature V4 (header form) against our own computation.
fn verify(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("missing {name}"))
    };
    let authorization = get("authorization")?;
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not AWS4-HMAC-SHA256")?;
    let mut fields = BTreeMap::new();
    for part in rest.split(", ") {
        let (name, value) = part.split_once('=').ok_or("malformed Authorization")?;
        fields.insert(name, value);
    }
    let credential = fields.get("Credential").ok_or("no Credential")?;
    let signed_headers = fields.get("SignedHeaders").ok_or("no SignedHeaders")?;
    let signature = fields.get("Signature").ok_or("no Signature")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [key_id, date, region, "s3", "aws4_request"] = scope.as_slice() else {
        return Err(format!("malformed Credential {credential}"));
    };
    if *key_id != ACCESS_KEY_ID {
        return Err("unknown access key".into());
    }
    let amz_date = get("x-amz-date")?;
    if !amz_date.starts_with(date) || amz_date.len() != 16 {
        return Err("x-amz-date does not match the scope".into());
    }
    let payload_hash = get("x-amz-content-sha256")?;
    if payload_hash != "UNSIGNED-PAYLOAD" && payload_hash != hex::encode(Sha256::digest(body)) {
        return Err("x-amz-content-sha256 does not match the body".into());
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    for required in ["host", "x-amz-date", "x-amz-content-sha256"] {
        if !names.contains(&required) {
            return Err(format!("{required} is not signed"));
        }
    }
    let mut canonical_headers = String::new();
    for name in &names {
        canonical_headers.push_str(&format!("{name}:{}\n", get(name)?.trim()));
    }
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/{region}/s3/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{SECRET_ACCESS_KEY}").into_bytes();
    for part in [*date, *region, "s3", "aws4_request"] {
        key = mac(&key, part.as_bytes());
    }
    let expected = hex::encode(mac(&key, string_to_sign.as_bytes()));
    if expected == *signature {
        Ok(())
    } else {
        Err("signature mismatch".into())
    }
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Which S3 server a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum S3Kind {
    /// [`FakeS3`]: in memory, checks signatures with its own code.
    Fake,
    /// moto's standalone server ([`crate::moto::Moto`]): a third-party implementation.
    Moto,
}

/// An S3 server for a test, with the inspection the tests need, whichever it is.
pub enum TestS3 {
    Fake(FakeS3),
    Moto(crate::moto::Moto),
}

impl TestS3 {
    /// Start a server of `kind`.
    pub async fn start(kind: S3Kind) -> TestS3 {
        match kind {
            S3Kind::Fake => TestS3::Fake(FakeS3::start().await),
            S3Kind::Moto => TestS3::Moto(crate::moto::Moto::start().await),
        }
    }

    /// A client for `bucket` (created first on moto).
    pub async fn bucket(&self, bucket: &str) -> S3Bucket {
        match self {
            TestS3::Fake(fake) => fake.bucket(bucket),
            TestS3::Moto(moto) => moto.bucket(bucket).await,
        }
    }

    /// Every key of `bucket`, sorted.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        match self {
            TestS3::Fake(fake) => fake.keys(bucket),
            TestS3::Moto(moto) => {
                let mut keys = moto
                    .bucket(bucket)
                    .await
                    .client
                    .list_objects(bucket, "")
                    .await
                    .expect("list moto's bucket");
                keys.sort();
                keys
            }
        }
    }

    /// The body of one object, `None` when it does not exist.
    pub async fn body(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        match self {
            TestS3::Fake(fake) => fake.object(bucket, key).map(|o| o.body),
            TestS3::Moto(moto) => moto
                .bucket(bucket)
                .await
                .client
                .get_object(bucket, key)
                .await
                .ok(),
        }
    }

    /// Store an object directly.
    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) {
        match self {
            TestS3::Fake(fake) => fake.put(bucket, key, body),
            TestS3::Moto(moto) => moto
                .bucket(bucket)
                .await
                .client
                .put_object(bucket, key, body.to_vec(), "application/octet-stream", None)
                .await
                .expect("put an object into moto"),
        }
    }

    /// The multipart uploads in progress as (key, upload id).
    pub async fn uploads(&self, bucket: &str) -> Vec<(String, String)> {
        match self {
            TestS3::Fake(fake) => fake.uploads(bucket),
            TestS3::Moto(moto) => moto
                .bucket(bucket)
                .await
                .client
                .list_multipart_uploads(bucket, "")
                .await
                .expect("list moto's multipart uploads"),
        }
    }
}
