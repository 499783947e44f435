//! S3 mode (`S3_RECORDING`, `docs/compatibility.md#importer-s3`): instead of moving a format's directory into the
//! publish tree, upload every file of it to the bucket under `published/` or `unpublished/` +
//! `<format>/<recordID>/<relative path>`, with a Content-Type from the extension (`.pdf` and `.ogg` as attachments). As
//! in the original, objects of an earlier import under the other prefix are left alone.

use std::io;
use std::path::{Path, PathBuf};

use scalelite_core::paths::is_safe_segment;
use scalelite_core::s3::{S3Bucket, content_type_for, recording_prefix};

use crate::ImportError;

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
    let mut keys = Vec::with_capacity(files.len());
    for (relative, path) in files {
        let body = tokio::fs::read(&path)
            .await
            .map_err(|e| ImportError::io(format!("cannot read {}", path.display()), e))?;
        let key = format!("{prefix}{relative}");
        let (content_type, disposition) = content_type_for(&relative);
        bucket
            .client
            .put_object(&bucket.bucket, &key, body, content_type, disposition)
            .await
            .map_err(|source| ImportError::S3 {
                context: format!("cannot upload {format}/{record_id}"),
                source,
            })?;
        keys.push(key);
    }
    Ok(keys)
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
