//! The spool directory: which archives are waiting, and what happens to an archive once it has been dealt with
//! (removed after an import, moved to `failed/` when it cannot be imported).
//!
//! An archive is identified by its inode as well as its name: BBB servers may send the same recording again while
//! an earlier copy is being imported (rsync renames the new file over the old name), and the new copy must not be
//! removed or moved away in place of the old one.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// One archive waiting in the spool.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SpoolEntry {
    pub path: PathBuf,
    pub identity: TarIdentity,
}

/// What tells two files of the same name apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TarIdentity {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl TarIdentity {
    pub(crate) fn of(path: &Path) -> io::Result<TarIdentity> {
        let metadata = fs::symlink_metadata(path)?;
        Ok(Self::from_metadata(&metadata))
    }

    fn from_metadata(metadata: &fs::Metadata) -> TarIdentity {
        let (dev, ino) = dev_ino(metadata);
        TarIdentity {
            dev,
            ino,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }

    /// Whether the file was written to within `settle` before `now` (it may still be being written).
    pub(crate) fn is_fresh(&self, now: SystemTime, settle: std::time::Duration) -> bool {
        self.modified
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age < settle)
    }

    /// Same inode, size and modification time: a freed inode number can be reused by the next file at once.
    fn same_file(&self, other: &TarIdentity) -> bool {
        self == other
    }
}

#[cfg(unix)]
fn dev_ino(metadata: &fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn dev_ino(_: &fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The `*.tar` regular files directly in `spool` (not hidden ones: rsync writes into a dot-prefixed temporary name),
/// sorted by name.
pub(crate) fn list(spool: &Path) -> io::Result<Vec<SpoolEntry>> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(spool)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".tar") {
            continue;
        }
        let metadata = match entry.metadata() {
            Ok(metadata) => metadata,
            // Imported or replaced since the directory was read.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !metadata.file_type().is_file() {
            continue;
        }
        entries.push(SpoolEntry {
            path: entry.path(),
            identity: TarIdentity::from_metadata(&metadata),
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Remove the imported archive, unless the name now belongs to a newer copy. Returns whether it was removed.
pub(crate) fn remove(path: &Path, identity: &TarIdentity) -> io::Result<bool> {
    if !still_there(path, identity)? {
        return Ok(false);
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Move an archive that cannot be imported into `failed_dir` (created if needed), next to a `<name>.reason` file
/// saying why. A name already taken there gets a numeric suffix. Returns the new path, or `None` when the spool
/// name now belongs to a newer copy (which is left alone).
pub(crate) fn move_to_failed(
    path: &Path,
    identity: &TarIdentity,
    failed_dir: &Path,
    reason: &str,
) -> io::Result<Option<PathBuf>> {
    if !still_there(path, identity)? {
        return Ok(None);
    }
    fs::create_dir_all(failed_dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive.tar".to_owned());
    let stem = name.strip_suffix(".tar").unwrap_or(&name).to_owned();
    let mut target = failed_dir.join(&name);
    let mut n = 1;
    while fs::symlink_metadata(&target).is_ok() {
        target = failed_dir.join(format!("{stem}.{n}.tar"));
        n += 1;
    }
    match fs::rename(path, &target) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::CrossesDevices => {
            fs::copy(path, &target)?;
            fs::remove_file(path)?;
        }
        Err(e) => return Err(e),
    }
    let mut reason_path = target.clone().into_os_string();
    reason_path.push(".reason");
    // The log line is the record; the file is a convenience for operators, so failing to write it is harmless.
    let _ = fs::write(PathBuf::from(reason_path), format!("{reason}\n"));
    Ok(Some(target))
}

fn still_there(path: &Path, identity: &TarIdentity) -> io::Result<bool> {
    match TarIdentity::of(path) {
        Ok(now) => Ok(now.same_file(identity)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
