//! Unpacking a recording archive into a fresh directory, refusing anything that could write outside it.
//!
//! Only plain files and directories are created. Symbolic links, hard links, devices and FIFOs are refused, and so
//! is every entry whose path is absolute, contains `..`, a backslash or a NUL byte, or is not UTF-8: one such entry
//! rejects the whole archive (a BBB server never produces them, so the archive was tampered with or damaged).
//! Every path goes through `paths::safe_join`, and since nothing but directories and files is ever created, no
//! path inside the target can lead out of it either.
//!
//! Nothing unbounded is accepted ([`ArchiveLimits`]): an archive with more entries than allowed, a file larger than
//! allowed, or more bytes in all than allowed is refused before the offending entry is written (sizes are read
//! from the entry headers, and a file's data is cut at its announced size). Sparse entries are refused, since
//! their unpacked size is not what their header says.
//!
//! Errors are split by who is at fault: the archive ([`ExtractError::Corrupt`], [`ExtractError::Unsafe`],
//! [`ExtractError::OverLimit`]; moving it to `failed/` is right) or this machine ([`ExtractError::Io`]: a full
//! disk, permissions; try again later).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use scalelite_core::paths::{UnsafePath, safe_join};
use tar::EntryType;

/// Why an archive could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The archive is not a readable tar (bad header, truncated data, compressed, ...).
    #[error("corrupt archive: {0}")]
    Corrupt(String),
    /// An entry would create something other than a file or directory, or would land outside the target.
    #[error("unsafe archive entry {entry:?}: {why}")]
    Unsafe {
        /// The entry's path as stored (lossily decoded).
        entry: String,
        /// What is wrong with it.
        why: String,
    },
    /// The archive is over one of the [`ArchiveLimits`].
    #[error("archive over a limit: {0}")]
    OverLimit(String),
    /// Writing the unpacked files failed on this machine.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The most an archive may hold. The defaults are far above any real recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Entries of any kind (`RECORDING_IMPORT_MAX_ENTRIES`).
    pub max_entries: u64,
    /// Bytes of all files together (`RECORDING_IMPORT_MAX_SIZE`).
    pub max_total_bytes: u64,
    /// Bytes of one file (`RECORDING_IMPORT_MAX_FILE_SIZE`).
    pub max_file_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_total_bytes: 20 * 1024 * 1024 * 1024,
            max_file_bytes: 8 * 1024 * 1024 * 1024,
        }
    }
}

/// Called before each file an extraction creates; an error is reported as that file's write error. A seam for
/// tests (a full disk cannot be made on demand); `None` in production.
pub type WriteFault = Arc<dyn Fn(&Path) -> io::Result<()> + Send + Sync>;

/// What an extraction produced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    /// Regular files written.
    pub files: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

/// Unpack the tar at `archive` into `target` (an existing, empty directory that only this process uses).
///
/// # Errors
/// See [`ExtractError`]. On error `target` may hold part of the archive; the caller discards it.
pub fn extract(
    archive: &Path,
    target: &Path,
    limits: &ArchiveLimits,
    fault: Option<&WriteFault>,
) -> Result<Extracted, ExtractError> {
    let file = File::open(archive).map_err(|source| ExtractError::Io {
        context: format!("cannot open {}", archive.display()),
        source,
    })?;
    extract_from(
        BufReader::with_capacity(256 * 1024, file),
        target,
        limits,
        fault,
    )
}

/// [`extract`] from any reader.
///
/// # Errors
/// See [`ExtractError`].
pub fn extract_from(
    reader: impl Read,
    target: &Path,
    limits: &ArchiveLimits,
    fault: Option<&WriteFault>,
) -> Result<Extracted, ExtractError> {
    let mut archive = tar::Archive::new(reader);
    let mut extracted = Extracted::default();
    let mut entries_seen = 0u64;
    // Directories known to exist: on some filesystems even a `mkdir` that fails with EEXIST is slow.
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    dirs.insert(target.to_path_buf());
    let entries = archive.entries().map_err(corrupt)?;
    for entry in entries {
        let mut entry = entry.map_err(corrupt)?;
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(ExtractError::OverLimit(format!(
                "more than {} entries (RECORDING_IMPORT_MAX_ENTRIES)",
                limits.max_entries
            )));
        }
        let raw_path = entry.path_bytes().into_owned();
        let display = String::from_utf8_lossy(&raw_path).into_owned();
        let Ok(relative) = std::str::from_utf8(&raw_path) else {
            return Err(unsafe_entry(display, "path is not UTF-8"));
        };
        let kind = entry.header().entry_type();
        match kind {
            EntryType::Directory => {
                // `./` (tars made with `tar -C dir -c .`) is the target itself.
                if relative
                    .split('/')
                    .all(|part| part.is_empty() || part == ".")
                {
                    continue;
                }
                let path = join(target, relative, &display)?;
                ensure_dir(&path, &mut dirs)?;
            }
            EntryType::GNUSparse => return Err(unsafe_entry(display, "sparse file")),
            EntryType::Regular | EntryType::Continuous => {
                if is_pax_sparse(&mut entry) {
                    return Err(unsafe_entry(display, "sparse file"));
                }
                let path = join(target, relative, &display)?;
                let size = entry.size();
                if size > limits.max_file_bytes {
                    return Err(ExtractError::OverLimit(format!(
                        "{display:?} has {size} bytes, more than {} (RECORDING_IMPORT_MAX_FILE_SIZE)",
                        limits.max_file_bytes
                    )));
                }
                if extracted.bytes.saturating_add(size) > limits.max_total_bytes {
                    return Err(ExtractError::OverLimit(format!(
                        "more than {} bytes unpacked (RECORDING_IMPORT_MAX_SIZE)",
                        limits.max_total_bytes
                    )));
                }
                let mtime = entry.header().mtime().ok();
                if let Some(parent) = path.parent() {
                    ensure_dir(parent, &mut dirs)?;
                }
                if let Some(fault) = fault {
                    fault(&path).map_err(|e| write_error(&path, e))?;
                }
                // Never more than the header announced, whatever the reader yields.
                let written = write_file(&mut (&mut entry).take(size), &path, mtime)?;
                if written != size {
                    return Err(ExtractError::Corrupt(format!(
                        "{display:?} is truncated ({written} of {size} bytes)"
                    )));
                }
                extracted.files += 1;
                extracted.bytes += written;
            }
            // A pax global header carries defaults (comments, times) and creates nothing.
            EntryType::XGlobalHeader => {}
            EntryType::Symlink => return Err(unsafe_entry(display, "symbolic link")),
            EntryType::Link => return Err(unsafe_entry(display, "hard link")),
            EntryType::Char | EntryType::Block => {
                return Err(unsafe_entry(display, "device file"));
            }
            EntryType::Fifo => return Err(unsafe_entry(display, "named pipe")),
            other => {
                return Err(unsafe_entry(
                    display,
                    &format!("unsupported entry type {:?}", other.as_byte() as char),
                ));
            }
        }
    }
    Ok(extracted)
}

/// A PAX-format sparse file (`GNU.sparse.*` records): its data is a map of holes, not the file.
fn is_pax_sparse<R: Read>(entry: &mut tar::Entry<'_, R>) -> bool {
    let Ok(Some(extensions)) = entry.pax_extensions() else {
        return false;
    };
    extensions
        .flatten()
        .any(|extension| extension.key_bytes().starts_with(b"GNU.sparse."))
}

fn join(target: &Path, relative: &str, display: &str) -> Result<PathBuf, ExtractError> {
    safe_join(target, relative).map_err(|why| {
        let why = match why {
            UnsafePath::Empty => "empty path".to_owned(),
            UnsafePath::Absolute => "absolute path".to_owned(),
            UnsafePath::Traversal => "path leaves the archive (`..`)".to_owned(),
            UnsafePath::BadCharacter => "path contains a NUL byte or a backslash".to_owned(),
        };
        unsafe_entry(display.to_owned(), &why)
    })
}

fn write_file(entry: &mut impl Read, path: &Path, mtime: Option<u64>) -> Result<u64, ExtractError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| write_error(path, e))?;
    let mut written = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        // A read error is the archive's (the tar reader reports malformed and truncated data this way).
        let n = match entry.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt(e)),
        };
        io::Write::write_all(&mut file, &buffer[..n]).map_err(|e| write_error(path, e))?;
        written += n as u64;
    }
    if let Some(mtime) = mtime {
        // Keep the recording's file times (as `tar -x` does); not being able to is harmless.
        let _ = file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(mtime));
    }
    Ok(written)
}

fn ensure_dir(path: &Path, known: &mut HashSet<PathBuf>) -> Result<(), ExtractError> {
    if known.contains(path) {
        return Ok(());
    }
    fs::create_dir_all(path).map_err(|e| write_error(path, e))?;
    known.insert(path.to_path_buf());
    Ok(())
}

/// A write that failed because the archive conflicts with itself (a file where it earlier put a directory, or
/// the reverse) is the archive's fault; anything else is this machine's.
fn write_error(path: &Path, e: io::Error) -> ExtractError {
    match e.kind() {
        ErrorKind::IsADirectory | ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
            ExtractError::Corrupt(format!(
                "entries conflict at {}: {e}",
                path.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
            ))
        }
        _ => ExtractError::Io {
            context: format!("cannot write {}", path.display()),
            source: e,
        },
    }
}

fn corrupt(e: io::Error) -> ExtractError {
    ExtractError::Corrupt(e.to_string())
}

fn unsafe_entry(entry: String, why: &str) -> ExtractError {
    ExtractError::Unsafe {
        entry,
        why: why.to_owned(),
    }
}

#[cfg(test)]
mod tests;
