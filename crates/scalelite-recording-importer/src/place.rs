//! The unpacked tree and the published tree: finding `<format>/<recordID>/metadata.xml`, and moving a format's
//! directory into `RECORDING_PUBLISH_DIR` or `RECORDING_UNPUBLISH_DIR`, replacing any old copy in either.
//!
//! The work directory normally sits on the same filesystem as the publish directories, so placing a format is
//! renames only: the old copies are renamed into the import's scratch directory (deleted with it) and the new
//! directory is renamed into place, which leaves a window of two renames in which the format is absent, and never
//! a half-copied one. When the publish directory is on another filesystem the new tree is first copied next to its
//! destination under a hidden name, then renamed.

use std::fs;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};

use scalelite_core::paths::{is_safe_segment, safe_join};

/// One `<format>/<recordID>/metadata.xml` found in an unpacked archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FoundFormat {
    /// The top-level directory name (the format).
    pub format: String,
    /// The second-level directory name (the record id).
    pub record_id: String,
    /// `<root>/<format>/<recordID>`.
    pub dir: PathBuf,
}

/// Every `<format>/<recordID>` directory of `root` holding a regular `metadata.xml`, sorted by format then record
/// id. Anything else (loose files, other depths) is ignored.
pub(crate) fn find_formats(root: &Path) -> io::Result<Vec<FoundFormat>> {
    let mut found = Vec::new();
    for (format, format_dir) in sorted_dirs(root)? {
        for (record_id, dir) in sorted_dirs(&format_dir)? {
            let metadata = dir.join("metadata.xml");
            let is_file = fs::symlink_metadata(&metadata).is_ok_and(|m| m.file_type().is_file());
            if is_file {
                found.push(FoundFormat {
                    format: format.clone(),
                    record_id,
                    dir,
                });
            }
        }
    }
    Ok(found)
}

fn sorted_dirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        // Names are UTF-8: the extractor refused anything else.
        if let Ok(name) = entry.file_name().into_string() {
            dirs.push((name, entry.path()));
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Where recordings are served from.
#[derive(Clone, Debug)]
pub(crate) struct Destinations<'a> {
    /// `RECORDING_PUBLISH_DIR`.
    pub publish: &'a Path,
    /// `RECORDING_UNPUBLISH_DIR`.
    pub unpublish: &'a Path,
    /// A directory of the import's scratch space (same filesystem as the work directory) where replaced copies
    /// are moved before being deleted with it.
    pub trash: &'a Path,
}

/// Move `source` (an unpacked `<format>/<recordID>` directory) to `<publish or unpublish>/<format>/<recordID>`,
/// first removing any copy in either tree. Returns the final path.
pub(crate) fn place_format(
    source: &Path,
    format: &str,
    record_id: &str,
    published: bool,
    to: &Destinations<'_>,
) -> io::Result<PathBuf> {
    if !is_safe_segment(format) || !is_safe_segment(record_id) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!("unsafe format or record id {format:?}/{record_id:?}"),
        ));
    }
    let relative = format!("{format}/{record_id}");
    let (base, other_base) = if published {
        (to.publish, to.unpublish)
    } else {
        (to.unpublish, to.publish)
    };
    let target = safe_join(base, &relative).map_err(invalid_path)?;
    let other = safe_join(other_base, &relative).map_err(invalid_path)?;
    let parent = target
        .parent()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidInput, "target without a parent"))?;
    if !parent.is_dir() {
        fs::create_dir_all(parent).map_err(|e| context(e, "cannot create", parent))?;
    }

    // Across filesystems, copy first (slow) so that the old copy is only removed once the new one is complete.
    let staged = if same_filesystem(source, parent) {
        None
    } else {
        let staged = parent.join(format!(
            ".{record_id}.importing-{}",
            uuid::Uuid::new_v4().simple()
        ));
        if let Err(e) = copy_tree(source, &staged) {
            let _ = fs::remove_dir_all(&staged);
            return Err(context(e, "cannot copy into", &staged));
        }
        Some(staged)
    };
    let incoming = staged.as_deref().unwrap_or(source);

    let result = discard(&other, to.trash)
        .and_then(|()| discard(&target, to.trash))
        .and_then(|()| {
            fs::rename(incoming, &target).map_err(|e| context(e, "cannot move into", &target))
        });
    if result.is_err() {
        if let Some(staged) = &staged {
            let _ = fs::remove_dir_all(staged);
        }
    }
    result.map(|()| target)
}

/// Remove `path` (a directory, file or link; absent is fine): renamed into `trash` when possible, deleted in place
/// otherwise.
fn discard(path: &Path, trash: &Path) -> io::Result<()> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(context(e, "cannot inspect", path)),
    };
    if !trash.is_dir() {
        fs::create_dir_all(trash).map_err(|e| context(e, "cannot create", trash))?;
    }
    let parked = trash.join(uuid::Uuid::new_v4().simple().to_string());
    match fs::rename(path, &parked) {
        Ok(()) => Ok(()),
        Err(_) if metadata.is_dir() => {
            fs::remove_dir_all(path).map_err(|e| context(e, "cannot remove", path))
        }
        Err(_) => fs::remove_file(path).map_err(|e| context(e, "cannot remove", path)),
    }
}

#[cfg(unix)]
fn same_filesystem(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_filesystem(_: &Path, _: &Path) -> bool {
    false
}

/// Copy a tree of directories and regular files (what the extractor creates).
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let destination = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &destination)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &destination)?;
        }
    }
    Ok(())
}

fn invalid_path(e: scalelite_core::paths::UnsafePath) -> io::Error {
    io::Error::new(ErrorKind::InvalidInput, e.to_string())
}

fn context(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
