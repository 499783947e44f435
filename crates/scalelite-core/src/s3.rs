//! A small S3 client for recording storage (`S3_RECORDING`), signed with AWS Signature Version 4: PutObject,
//! GetObject, ListObjectsV2, DeleteObject, CopyObject (server-side), and multipart uploads (create, upload part,
//! complete, abort, ListMultipartUploads).
//!
//! Written over `reqwest` with `hmac` and `sha2` instead of a crate: the AWS SDK is far too heavy to compile,
//! `rusty-s3` has neither CopyObject nor ListMultipartUploads and needs a newer Rust than ours, and `object_store`
//! cannot list the multipart uploads a crashed importer left behind (see the commit that added multipart uploads). Requests go to `https://<bucket>.s3.<region>.amazonaws.com/<key>`
//! (virtual-hosted style), or to `<AWS_ENDPOINT_URL>/<bucket>/<key>` (path style) when an endpoint is configured
//! (MinIO, Ceph, a test server). Credentials are static (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optionally
//! `AWS_SESSION_TOKEN`); instance profiles and credential files are not read.
//!
//! [`signature`] is the pure signing step (no I/O, no clock) and is checked against AWS's documented example.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use reqwest::Method;
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
/// Largest CopyObject source (S3 refuses a single-request copy of a bigger object; bigger ones are copied in parts).
pub const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest part of a multipart upload but the last (S3's minimum).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Largest part of a multipart upload (S3's maximum).
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Most parts one multipart upload may have (S3's maximum).
pub const MAX_PARTS: u64 = 10_000;
/// Default `S3_PART_SIZE` and `S3_MULTIPART_THRESHOLD`: 8 MiB, as the AWS CLI.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Payloads at least this big are hashed on a blocking thread, not on the async worker.
const HASH_INLINE_MAX: usize = 64 * 1024;
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
        /// The operation (`PUT`, `LIST`, `DELETE`, `COPY`, `UPLOAD-PART`, ...).
        operation: &'static str,
        /// The object key or list prefix.
        key: String,
        /// The cause.
        message: String,
    },
    /// S3 answered with an error status.
    #[error("S3 {operation} {key}: HTTP {status} {code}: {message}")]
    Status {
        /// The operation (`PUT`, `LIST`, `DELETE`, `COPY`, `UPLOAD-PART`, ...).
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
    /// A successful status, but the answer is not what the operation returns (a CompleteMultipartUpload that
    /// failed after its 200, a CreateMultipartUpload without an upload id).
    #[error("S3 {operation} {key}: unexpected answer: {message}")]
    BadAnswer {
        /// The operation.
        operation: &'static str,
        /// The object key.
        key: String,
        /// What was wrong.
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

/// The bucket recordings live in (`S3_BUCKET_NAME`), the client that reaches it, and how files are uploaded.
#[derive(Clone, Debug)]
pub struct S3Bucket {
    /// The client.
    pub client: S3Client,
    /// The bucket name.
    pub bucket: String,
    /// How big files are uploaded (`S3_MULTIPART_THRESHOLD`, `S3_PART_SIZE`).
    pub multipart: MultipartSettings,
}

/// When a file is uploaded in parts, and how big the parts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MultipartSettings {
    /// Files of at least this many bytes are uploaded in parts; smaller ones in one PutObject (read whole).
    pub threshold: u64,
    /// Bytes per part (at least [`MIN_PART_SIZE`]); grown for a file that would need more than [`MAX_PARTS`].
    pub part_size: u64,
}

impl Default for MultipartSettings {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_PART_SIZE,
            part_size: DEFAULT_PART_SIZE,
        }
    }
}

impl MultipartSettings {
    /// The part size for a file of `size` bytes: the configured one, or the smallest whole number of MiB that
    /// keeps the file within [`MAX_PARTS`] parts.
    pub fn part_size_for(&self, size: u64) -> u64 {
        const MIB: u64 = 1024 * 1024;
        let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
        self.part_size
            .max(needed)
            .clamp(MIN_PART_SIZE, MAX_PART_SIZE)
    }
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
        let part_size = recording.s3_part_size;
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(S3Error::Config(format!(
                "S3_PART_SIZE must be between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB), not {part_size}"
            )));
        }
        Ok(Some(S3Bucket {
            client,
            bucket,
            multipart: MultipartSettings {
                threshold: recording.s3_multipart_threshold,
                part_size,
            },
        }))
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
        body: impl Into<Bytes>,
        content_type: &str,
        content_disposition: Option<&str>,
    ) -> Result<(), S3Error> {
        let headers = object_headers(content_type, content_disposition);
        self.call(
            "PUT",
            Method::PUT,
            bucket,
            key,
            &[],
            headers,
            body.into(),
            None,
        )
        .await
        .map(drop)
    }

    /// The whole body of `key` (GetObject).
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`] (404 `NoSuchKey` for a missing key).
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, S3Error> {
        let request = self.signed(Method::GET, bucket, key, &[], Vec::new(), EMPTY_SHA256)?;
        let response = request.send().await.map_err(transport("GET", key))?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport("GET", key))?;
        if status.is_success() {
            return Ok(body.to_vec());
        }
        Err(status_error(
            "GET",
            key,
            status,
            &String::from_utf8_lossy(&body),
        ))
    }

    /// Every key under `prefix` (ListObjectsV2, following continuation tokens), in S3's order.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadListing`].
    pub async fn list_objects(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, S3Error> {
        Ok(self
            .list_objects_sized(bucket, prefix)
            .await?
            .into_iter()
            .map(|(key, _)| key)
            .collect())
    }

    /// Every key under `prefix` with its size in bytes (ListObjectsV2, following continuation tokens).
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadListing`].
    pub async fn list_objects_sized(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<(String, u64)>, S3Error> {
        self.list_pages(
            "LIST",
            bucket,
            prefix,
            |token: Option<&String>| {
                let mut query = vec![
                    ("list-type".to_owned(), "2".to_owned()),
                    ("prefix".to_owned(), prefix.to_owned()),
                ];
                if let Some(token) = token {
                    query.push(("continuation-token".to_owned(), token.clone()));
                }
                query
            },
            |body| parse_listing(body).map(|page| (page.objects, page.truncated, page.next_token)),
            "truncated without a NextContinuationToken",
        )
        .await
    }

    /// Follow a paginated listing (at most [`MAX_LIST_PAGES`] pages): `query` makes each page's query from the
    /// previous page's marker, `parse` reads a page as (items, truncated, next marker).
    async fn list_pages<T, M>(
        &self,
        operation: &'static str,
        bucket: &str,
        prefix: &str,
        query: impl Fn(Option<&M>) -> Vec<(String, String)>,
        parse: impl Fn(&str) -> Result<(Vec<T>, bool, Option<M>), String>,
        no_marker: &str,
    ) -> Result<Vec<T>, S3Error> {
        let bad = |message: String| S3Error::BadListing {
            prefix: prefix.to_owned(),
            message,
        };
        let mut items = Vec::new();
        let mut marker: Option<M> = None;
        for _ in 0..MAX_LIST_PAGES {
            let body = self
                .call(
                    operation,
                    Method::GET,
                    bucket,
                    "",
                    &query(marker.as_ref()),
                    Vec::new(),
                    Bytes::new(),
                    Some(SMALL_REQUEST_TIMEOUT),
                )
                .await?
                .body;
            let (page, truncated, next) = parse(&body).map_err(bad)?;
            items.extend(page);
            match (truncated, next) {
                (true, Some(next)) => marker = Some(next),
                (true, None) => return Err(bad(no_marker.to_owned())),
                (false, _) => return Ok(items),
            }
        }
        Err(bad(format!("more than {MAX_LIST_PAGES} pages")))
    }

    /// Delete `key` (DeleteObject). Deleting a missing key succeeds, as in S3.
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`].
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.call(
            "DELETE",
            Method::DELETE,
            bucket,
            key,
            &[],
            Vec::new(),
            Bytes::new(),
            Some(SMALL_REQUEST_TIMEOUT),
        )
        .await
        .map(drop)
    }

    /// Create `bucket` (CreateBucket, no location constraint: the client's region). A bucket this account already
    /// owns counts as created.
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`].
    pub async fn create_bucket(&self, bucket: &str) -> Result<(), S3Error> {
        match self
            .call(
                "CREATE-BUCKET",
                Method::PUT,
                bucket,
                "",
                &[],
                Vec::new(),
                Bytes::new(),
                Some(SMALL_REQUEST_TIMEOUT),
            )
            .await
        {
            Err(S3Error::Status { code, .. }) if code == "BucketAlreadyOwnedByYou" => Ok(()),
            result => result.map(drop),
        }
    }

    /// Copy `from` to `to` in the bucket on the server side (CopyObject), keeping the object's Content-Type and
    /// Content-Disposition. The source must be at most [`MAX_COPY_SIZE`] bytes; [`S3Client::copy_object_in_parts`]
    /// copies bigger ones.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] (404 `NoSuchKey` for a missing source) or
    /// [`S3Error::BadAnswer`] (S3 may report a failed copy in the body of a 200).
    pub async fn copy_object(&self, bucket: &str, from: &str, to: &str) -> Result<(), S3Error> {
        let headers = vec![("x-amz-copy-source".to_owned(), copy_source(bucket, from))];
        let answer = self
            .call(
                "COPY",
                Method::PUT,
                bucket,
                to,
                &[],
                headers,
                Bytes::new(),
                None,
            )
            .await?;
        error_in_body("COPY", to, &answer.body)
    }

    /// Copy `from` (`size` bytes, any size) to `to` with a multipart upload whose parts are server-side copies of
    /// `part_size`-byte ranges (UploadPartCopy), with the Content-Type and Content-Disposition given (a multipart copy
    /// does not keep the source's).
    /// The upload is aborted if a part fails.
    ///
    /// # Errors
    /// As [`S3Client::copy_object`].
    pub async fn copy_object_in_parts(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
        size: u64,
        part_size: u64,
        (content_type, content_disposition): (&str, Option<&str>),
    ) -> Result<(), S3Error> {
        let upload_id = self
            .create_multipart_upload(bucket, to, content_type, content_disposition)
            .await?;
        let copied = async {
            let mut parts = Vec::new();
            let mut offset = 0u64;
            let mut number = 1u32;
            while offset < size {
                let end = (offset + part_size).min(size) - 1;
                let headers = vec![
                    ("x-amz-copy-source".to_owned(), copy_source(bucket, from)),
                    (
                        "x-amz-copy-source-range".to_owned(),
                        format!("bytes={offset}-{end}"),
                    ),
                ];
                let answer = self
                    .call(
                        "UPLOAD-PART-COPY",
                        Method::PUT,
                        bucket,
                        to,
                        &part_query(number, &upload_id),
                        headers,
                        Bytes::new(),
                        None,
                    )
                    .await?;
                error_in_body("UPLOAD-PART-COPY", to, &answer.body)?;
                let etag = xml_text(&answer.body, "ETag").ok_or_else(|| S3Error::BadAnswer {
                    operation: "UPLOAD-PART-COPY",
                    key: to.to_owned(),
                    message: "no ETag".into(),
                })?;
                parts.push(CompletedPart { number, etag });
                offset = end + 1;
                number += 1;
            }
            self.complete_multipart_upload(bucket, to, &upload_id, &parts)
                .await
        }
        .await;
        if copied.is_err() {
            // Best effort: a failed abort leaves the upload for the next ListMultipartUploads sweep.
            let _ = self.abort_multipart_upload(bucket, to, &upload_id).await;
        }
        copied
    }

    /// Start a multipart upload of `key` (CreateMultipartUpload); returns its upload id.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadAnswer`].
    pub async fn create_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        content_disposition: Option<&str>,
    ) -> Result<String, S3Error> {
        let query = [("uploads".to_owned(), String::new())];
        let headers = object_headers(content_type, content_disposition);
        let answer = self
            .call(
                "CREATE-MULTIPART",
                Method::POST,
                bucket,
                key,
                &query,
                headers,
                Bytes::new(),
                Some(SMALL_REQUEST_TIMEOUT),
            )
            .await?;
        xml_text(&answer.body, "UploadId").ok_or_else(|| S3Error::BadAnswer {
            operation: "CREATE-MULTIPART",
            key: key.to_owned(),
            message: "no UploadId".into(),
        })
    }

    /// Upload part `number` (1-based) of a multipart upload (UploadPart); returns the part's ETag.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadAnswer`] (no ETag).
    pub async fn upload_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: Bytes,
    ) -> Result<String, S3Error> {
        let answer = self
            .call(
                "UPLOAD-PART",
                Method::PUT,
                bucket,
                key,
                &part_query(number, upload_id),
                Vec::new(),
                body,
                None,
            )
            .await?;
        answer.etag.ok_or_else(|| S3Error::BadAnswer {
            operation: "UPLOAD-PART",
            key: key.to_owned(),
            message: "no ETag header".into(),
        })
    }

    /// Assemble the uploaded `parts` (in order) into the object (CompleteMultipartUpload).
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadAnswer`] (S3 may report a failure in the body of
    /// a 200).
    pub async fn complete_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[CompletedPart],
    ) -> Result<(), S3Error> {
        let query = [("uploadId".to_owned(), upload_id.to_owned())];
        let mut body = String::from(
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for part in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
                part.number,
                xml_escape(&part.etag)
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let headers = vec![("content-type".to_owned(), "application/xml".to_owned())];
        let answer = self
            .call(
                "COMPLETE-MULTIPART",
                Method::POST,
                bucket,
                key,
                &query,
                headers,
                Bytes::from(body),
                None,
            )
            .await?;
        error_in_body("COMPLETE-MULTIPART", key, &answer.body)
    }

    /// Abort a multipart upload (AbortMultipartUpload), dropping its parts. An upload that is already gone
    /// (404 `NoSuchUpload`) counts as aborted.
    ///
    /// # Errors
    /// [`S3Error::Transport`] or [`S3Error::Status`].
    pub async fn abort_multipart_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<(), S3Error> {
        let query = [("uploadId".to_owned(), upload_id.to_owned())];
        match self
            .call(
                "ABORT-MULTIPART",
                Method::DELETE,
                bucket,
                key,
                &query,
                Vec::new(),
                Bytes::new(),
                Some(SMALL_REQUEST_TIMEOUT),
            )
            .await
        {
            Err(S3Error::Status { status: 404, .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The multipart uploads in progress under `prefix` as (key, upload id) (ListMultipartUploads, following
    /// markers): what a crashed upload left behind.
    ///
    /// # Errors
    /// [`S3Error::Transport`], [`S3Error::Status`] or [`S3Error::BadListing`].
    pub async fn list_multipart_uploads(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, S3Error> {
        self.list_pages(
            "LIST-UPLOADS",
            bucket,
            prefix,
            |markers: Option<&(String, String)>| {
                let mut query = vec![
                    ("uploads".to_owned(), String::new()),
                    ("prefix".to_owned(), prefix.to_owned()),
                ];
                if let Some((key, id)) = markers {
                    query.push(("key-marker".to_owned(), key.clone()));
                    query.push(("upload-id-marker".to_owned(), id.clone()));
                }
                query
            },
            |body| {
                parse_uploads(body).map(|page| (page.uploads, page.truncated, page.next_markers))
            },
            "truncated without NextKeyMarker/NextUploadIdMarker",
        )
        .await
    }

    /// Send a signed request with `body` (hashed for the signature) and return the answer of a success status.
    #[allow(clippy::too_many_arguments)]
    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(String, String)],
        headers: Vec<(String, String)>,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Answer, S3Error> {
        let payload_hash = if body.is_empty() {
            EMPTY_SHA256.to_owned()
        } else if body.len() < HASH_INLINE_MAX {
            hex::encode(Sha256::digest(&body))
        } else {
            let hashed = body.clone();
            tokio::task::spawn_blocking(move || hex::encode(Sha256::digest(&hashed)))
                .await
                .map_err(|e| S3Error::Transport {
                    operation,
                    key: key.to_owned(),
                    message: format!("hashing the payload failed: {e}"),
                })?
        };
        let label = if key.is_empty() {
            query
                .iter()
                .find(|(n, _)| n == "prefix")
                .map_or("", |(_, v)| v.as_str())
        } else {
            key
        };
        let mut request = self.signed(method, bucket, key, query, headers, &payload_hash)?;
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        let response = request.send().await.map_err(transport(operation, label))?;
        let status = response.status();
        let etag = response
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(transport(operation, label))?;
        if status.is_success() {
            Ok(Answer { etag, body: text })
        } else {
            Err(status_error(operation, label, status, &text))
        }
    }

    /// A request with its `Authorization` header. `query` is unencoded; `headers` are lower-case names.
    fn signed(
        &self,
        method: Method,
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
    /// `Contents/Key` with `Contents/Size` (0 when absent).
    pub objects: Vec<(String, u64)>,
    /// `IsTruncated`.
    pub truncated: bool,
    /// `NextContinuationToken`.
    pub next_token: Option<String>,
}

impl ListingPage {
    /// The keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.objects.iter().map(|(key, _)| key.as_str()).collect()
    }
}

/// Read a ListObjectsV2 answer.
///
/// # Errors
/// A description of what is wrong when the XML is malformed or not a `ListBucketResult`.
pub fn parse_listing(xml: &str) -> Result<ListingPage, String> {
    let mut page = ListingPage::default();
    walk(xml, "ListBucketResult", |at, text| match at {
        ["ListBucketResult", "Contents"] if text.is_none() => page.objects.push((String::new(), 0)),
        ["ListBucketResult", "Contents", "Key"] => {
            if let (Some(last), Some(text)) = (page.objects.last_mut(), text) {
                last.0 = text.to_owned();
            }
        }
        ["ListBucketResult", "Contents", "Size"] => {
            if let (Some(last), Some(text)) = (page.objects.last_mut(), text) {
                last.1 = text.trim().parse().unwrap_or(0);
            }
        }
        ["ListBucketResult", "IsTruncated"] => {
            page.truncated = text.is_some_and(|t| t.trim() == "true")
        }
        ["ListBucketResult", "NextContinuationToken"] => page.next_token = text.map(str::to_owned),
        _ => {}
    })?;
    Ok(page)
}

/// One page of a ListMultipartUploads answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UploadsPage {
    /// `Upload/Key` with `Upload/UploadId`.
    pub uploads: Vec<(String, String)>,
    /// `IsTruncated`.
    pub truncated: bool,
    /// `NextKeyMarker` and `NextUploadIdMarker`.
    pub next_markers: Option<(String, String)>,
}

/// Read a ListMultipartUploads answer.
///
/// # Errors
/// A description of what is wrong when the XML is malformed or not a `ListMultipartUploadsResult`.
pub fn parse_uploads(xml: &str) -> Result<UploadsPage, String> {
    let mut page = UploadsPage::default();
    let (mut next_key, mut next_id) = (None, None);
    walk(xml, "ListMultipartUploadsResult", |at, text| match at {
        ["ListMultipartUploadsResult", "Upload"] if text.is_none() => {
            page.uploads.push((String::new(), String::new()));
        }
        ["ListMultipartUploadsResult", "Upload", "Key"] => {
            if let (Some(last), Some(text)) = (page.uploads.last_mut(), text) {
                last.0 = text.to_owned();
            }
        }
        ["ListMultipartUploadsResult", "Upload", "UploadId"] => {
            if let (Some(last), Some(text)) = (page.uploads.last_mut(), text) {
                last.1 = text.to_owned();
            }
        }
        ["ListMultipartUploadsResult", "IsTruncated"] => {
            page.truncated = text.is_some_and(|t| t.trim() == "true");
        }
        ["ListMultipartUploadsResult", "NextKeyMarker"] => next_key = text.map(str::to_owned),
        ["ListMultipartUploadsResult", "NextUploadIdMarker"] => next_id = text.map(str::to_owned),
        _ => {}
    })?;
    page.next_markers = next_key.zip(next_id);
    Ok(page)
}

/// Walk an XML document whose root must be `root`: `visit(path, None)` at each element's start and
/// `visit(path, Some(text))` for its text.
fn walk(xml: &str, root: &str, mut visit: impl FnMut(&[&str], Option<&str>)) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut saw_root = false;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if name != root {
                        return Err(format!("unexpected root element {name}"));
                    }
                    saw_root = true;
                }
                path.push(name);
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                visit(&at, None);
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| e.to_string())?.into_owned();
                let at: Vec<&str> = path.iter().map(String::as_str).collect();
                visit(&at, Some(&text));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if saw_root {
        Ok(())
    } else {
        Err(format!("no {root} element"))
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

/// A successful answer: its ETag header and body.
struct Answer {
    etag: Option<String>,
    body: String,
}

/// A part of a multipart upload as uploaded: its number and the ETag S3 gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompletedPart {
    /// 1-based.
    pub number: u32,
    /// As S3 sent it (quotes included).
    pub etag: String,
}

/// [`S3Error::Status`] from an error answer.
fn status_error(
    operation: &'static str,
    key: &str,
    status: reqwest::StatusCode,
    body: &str,
) -> S3Error {
    let (code, message) = parse_error(body);
    S3Error::Status {
        operation,
        key: key.to_owned(),
        status: status.as_u16(),
        code,
        message,
    }
}

/// S3 answers CopyObject, UploadPartCopy and CompleteMultipartUpload with 200 as soon as it starts, and may report a
/// failure in the body afterwards.
fn error_in_body(operation: &'static str, key: &str, body: &str) -> Result<(), S3Error> {
    if root_element(body).as_deref() == Some("Error") {
        let (code, message) = parse_error(body);
        return Err(S3Error::BadAnswer {
            operation,
            key: key.to_owned(),
            message: format!("{code}: {message}"),
        });
    }
    Ok(())
}

/// `Content-Type` and, when given, `Content-Disposition`.
fn object_headers(content_type: &str, content_disposition: Option<&str>) -> Vec<(String, String)> {
    let mut headers = vec![("content-type".to_owned(), content_type.to_owned())];
    if let Some(disposition) = content_disposition {
        headers.push(("content-disposition".to_owned(), disposition.to_owned()));
    }
    headers
}

/// `x-amz-copy-source`: `/<bucket>/<key>`, URI-encoded.
fn copy_source(bucket: &str, key: &str) -> String {
    format!("/{}/{}", uri_encode(bucket, true), uri_encode(key, false))
}

/// `partNumber=<n>&uploadId=<id>`.
fn part_query(number: u32, upload_id: &str) -> [(String, String); 2] {
    [
        ("partNumber".to_owned(), number.to_string()),
        ("uploadId".to_owned(), upload_id.to_owned()),
    ]
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The name of the document's root element.
fn root_element(xml: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) | Event::Empty(start) => {
                return Some(String::from_utf8_lossy(start.local_name().as_ref()).into_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The text of the first element named `name`, anywhere in the document.
fn xml_text(xml: &str, name: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(start) => {
                inside = start.local_name().as_ref() == name.as_bytes();
            }
            Event::Text(text) if inside => {
                return text.unescape().ok().map(|t| t.into_owned());
            }
            Event::End(_) => inside = false,
            Event::Eof => return None,
            _ => {}
        }
    }
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
