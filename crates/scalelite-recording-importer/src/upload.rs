//! S3 mode (`S3_RECORDING`, `docs/compatibility.md#importer-s3`): instead of moving a format's directory into the
//! publish tree, upload every file of it to the bucket under `published/` or `unpublished/` +
//! `<format>/<recordID>/<relative path>`, with a Content-Type from the extension (`.pdf` and `.ogg` as attachments). As
//! in the original, objects of an earlier import under the other prefix are left alone.
//!
//! Files below `S3_MULTIPART_THRESHOLD` go in one PutObject; bigger ones stream from disk as a multipart upload of
//! `S3_PART_SIZE` parts, one part in memory at a time, whatever the file's size. Every request is tried
//! [`ATTEMPTS`] times when S3 is unreachable or answers 5xx/429. A failed multipart upload is aborted; one a crash
//! left behind (the abort never ran) is aborted before the format is uploaded again, so a re-run leaves exactly the
//! complete objects and no stale parts. Objects are written whole or not at all (S3 shows a multipart object only
//! once it is completed), and a re-run overwrites them with the same content.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scalelite_core::paths::is_safe_segment;
use scalelite_core::s3::{CompletedPart, S3Bucket, S3Error, content_type_for, recording_prefix};
use tokio::io::AsyncReadExt;

use crate::ImportError;

/// Tries of every S3 request (one try and two retries).
pub const ATTEMPTS: u32 = 3;
/// Wait before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Upload every regular file under `source` (an unpacked `<format>/<recordID>` directory). Returns the keys
/// written, in name order.
pub(crate) async fn upload_format(
    bucket: &S3Bucket,
    source: &Path,
    format: &str,
    record_id: &str,
    published: bool,
) -> Result<Vec<String>, ImportError> {
    if !is_safe_segment(format) || !is_safe_segment(record_id) {
        return Err(ImportError::io(
            "cannot upload",
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsafe format or record id {format:?}/{record_id:?}"),
            ),
        ));
    }
    let root = source.to_path_buf();
    let files = crate::blocking(move || {
        let mut files = Vec::new();
        list_files(&root, &root, &mut files)
            .map_err(|e| ImportError::io(format!("cannot list {}", root.display()), e))?;
        files.sort();
        Ok(files)
    })
    .await?;
    let prefix = recording_prefix(published, format, record_id);
    let failed = |source| ImportError::S3 {
        context: format!("cannot upload {format}/{record_id}"),
        source,
    };
    abort_stale_uploads(bucket, &prefix).await.map_err(failed)?;
    let mut keys = Vec::with_capacity(files.len());
    for (relative, path) in files {
        let key = format!("{prefix}{relative}");
        let (content_type, disposition) = content_type_for(&relative);
        match upload_file(bucket, &path, &key, content_type, disposition).await {
            Ok(()) => keys.push(key),
            Err(UploadError::Io(e)) => {
                return Err(ImportError::io(
                    format!("cannot read {}", path.display()),
                    e,
                ));
            }
            Err(UploadError::S3(e)) => return Err(failed(e)),
        }
    }
    Ok(keys)
}

/// Why one file could not be uploaded.
#[derive(Debug)]
enum UploadError {
    Io(io::Error),
    S3(S3Error),
}

impl From<S3Error> for UploadError {
    fn from(e: S3Error) -> Self {
        UploadError::S3(e)
    }
}

impl From<io::Error> for UploadError {
    fn from(e: io::Error) -> Self {
        UploadError::Io(e)
    }
}

/// Abort the multipart uploads in progress under `prefix`: what an importer that crashed in the middle of this
/// format left behind (nothing else uploads there).
async fn abort_stale_uploads(bucket: &S3Bucket, prefix: &str) -> Result<(), S3Error> {
    let (client, name) = (&bucket.client, bucket.bucket.as_str());
    let stale = retried(|| client.list_multipart_uploads(name, prefix)).await?;
    for (key, upload_id) in stale {
        tracing::info!(
            key,
            "aborting a multipart upload an earlier import left unfinished"
        );
        retried(|| client.abort_multipart_upload(name, &key, &upload_id)).await?;
    }
    Ok(())
}

/// Upload one file: one PutObject below the threshold, a multipart upload from it.
async fn upload_file(
    bucket: &S3Bucket,
    path: &Path,
    key: &str,
    content_type: &str,
    disposition: Option<&str>,
) -> Result<(), UploadError> {
    let (client, name) = (&bucket.client, bucket.bucket.as_str());
    let size = tokio::fs::metadata(path).await?.len();
    if size < bucket.multipart.threshold.max(1) {
        let body = bytes::Bytes::from(tokio::fs::read(path).await?);
        retried(|| client.put_object(name, key, body.clone(), content_type, disposition)).await?;
        return Ok(());
    }
    let part_size = bucket.multipart.part_size_for(size);
    let upload_id =
        retried(|| client.create_multipart_upload(name, key, content_type, disposition)).await?;
    let uploaded = upload_parts(bucket, path, key, &upload_id, part_size).await;
    if uploaded.is_err() {
        // Best effort: if S3 is unreachable the next import of this format aborts it (`abort_stale_uploads`).
        if let Err(e) = client.abort_multipart_upload(name, key, &upload_id).await {
            tracing::warn!(key, error.message = %e, "could not abort the failed multipart upload");
        }
    }
    uploaded
}

/// Stream `path` into the upload, `part_size` bytes per part, then complete it.
async fn upload_parts(
    bucket: &S3Bucket,
    path: &Path,
    key: &str,
    upload_id: &str,
    part_size: u64,
) -> Result<(), UploadError> {
    let (client, name) = (&bucket.client, bucket.bucket.as_str());
    let mut file = tokio::fs::File::open(path).await?;
    let capacity = usize::try_from(part_size).unwrap_or(usize::MAX);
    let mut parts = Vec::new();
    for number in 1u32.. {
        let buffer = read_part(&mut file, capacity).await?;
        if buffer.is_empty() && number > 1 {
            break;
        }
        let last = (buffer.len() as u64) < part_size;
        let body = bytes::Bytes::from(buffer);
        let etag =
            retried(|| client.upload_part(name, key, upload_id, number, body.clone())).await?;
        parts.push(CompletedPart { number, etag });
        if last {
            break;
        }
    }
    client
        .complete_multipart_upload(name, key, upload_id, &parts)
        .await?;
    Ok(())
}

/// The next `len` bytes of `file`, fewer at its end. The buffer is allocated once at its full size (`read_to_end`
/// would grow it to twice the part).
async fn read_part(file: &mut tokio::fs::File, len: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let read = file.read(&mut buffer[filled..]).await?;
        if read == 0 {
            break;
        }
        filled += read;
    }
    buffer.truncate(filled);
    Ok(buffer)
}

/// Run `request` up to [`ATTEMPTS`] times while it fails in a way a retry can fix (S3 unreachable, 5xx, 429).
async fn retried<T, F, Fut>(mut request: F) -> Result<T, S3Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, S3Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match request().await {
            Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                tracing::debug!(error.message = %e, attempt, "S3 request failed, trying again");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// A failure that may not happen again: S3 unreachable or busy.
fn retryable(e: &S3Error) -> bool {
    match e {
        S3Error::Transport { .. } => true,
        S3Error::Status { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// Every regular file under `dir` as (`/`-separated path relative to `root`, full path). Links and other special
/// files are skipped (the extractor creates none).
fn list_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let path = entry.path();
        if kind.is_dir() {
            list_files(root, &path, out)?;
        } else if kind.is_file() {
            let relative = path
                .strip_prefix(root)
                .map_err(|_| io::Error::other("a file outside the directory"))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push((relative, path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
