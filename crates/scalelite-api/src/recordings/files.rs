//! Moving a recording's files between the publish and unpublish directories, and setting them aside for
//! deletion, in a way that can be undone: every step is recorded in a [`Journal`], which is either committed (the
//! set-aside copies are removed) or rolled back (every step undone in reverse order).
//!
//! The layout is `<dir>/<format>/<record_id>/...` (`docs/compatibility.md#recording-layout`). Record ids and format
//! names come from the store, which got them from archives; they are checked with `paths::is_safe_segment` and joined
//! with `paths::safe_join`, so nothing here can touch a path outside the two directories.

use std::io;
use std::path::{Path, PathBuf};

use rand::Rng;
use scalelite_core::paths::{is_safe_segment, safe_join};

/// Why the files of a recording could not be moved or set aside. Whatever was done before is undone already.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("unsafe record id or format name {0:?}")]
    UnsafeName(String),
    #[error("recording {record_id} has no files for format {format} in either directory")]
    Missing { record_id: String, format: String },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// One change to the filesystem, and how to undo it.
#[derive(Debug)]
enum Step {
    /// `from` was renamed to `to`.
    Renamed { from: PathBuf, to: PathBuf },
    /// `from` was copied to `to` (rename crossed filesystems); `from` is removed at commit.
    Copied { from: PathBuf, to: PathBuf },
    /// `original` was renamed to `aside` (same directory); `aside` is removed at commit.
    SetAside { original: PathBuf, aside: PathBuf },
}

/// The steps taken so far. Dropping a journal without committing or rolling back leaves the files as they are.
#[derive(Debug, Default)]
#[must_use = "a journal must be committed or rolled back"]
pub struct Journal {
    steps: Vec<Step>,
}

impl Journal {
    /// Make the changes final: remove the set-aside and copied-from directories. Failures are logged only (the
    /// recording is already consistent; what remains is garbage).
    pub fn commit(self) {
        for step in self.steps {
            let leftover = match step {
                Step::Renamed { .. } => continue,
                Step::Copied { from, .. } => from,
                Step::SetAside { aside, .. } => aside,
            };
            if let Err(e) = std::fs::remove_dir_all(&leftover) {
                tracing::warn!(path = %leftover.display(), error.message = %e, "could not remove old recording files");
            }
        }
    }

    /// Undo every step, newest first. Failures are logged (nothing better can be done at that point).
    pub fn roll_back(self) {
        for step in self.steps.into_iter().rev() {
            let result = match &step {
                Step::Renamed { from, to } => std::fs::rename(to, from),
                Step::Copied { to, .. } => std::fs::remove_dir_all(to),
                Step::SetAside { original, aside } => std::fs::rename(aside, original),
            };
            if let Err(e) = result {
                tracing::error!(?step, error.message = %e, "could not undo a recording file change");
            }
        }
    }
}

/// Move `<from>/<format>/<record_id>` to `<to>/<format>/<record_id>` for every format (publishRecordings,
/// `docs/compatibility.md#recording-file-moves`): already only in `to` is fine; in both, the copy in `from` is set
/// aside; in neither is an error. On error everything done so far is undone before returning.
pub fn move_formats(
    from: &Path,
    to: &Path,
    formats: &[String],
    record_id: &str,
) -> Result<Journal, FilesError> {
    let mut journal = Journal::default();
    for format in formats {
        if let Err(e) = move_format(&mut journal, from, to, format, record_id) {
            journal.roll_back();
            return Err(e);
        }
    }
    Ok(journal)
}

/// Set aside every `<dir>/<any format>/<record_id>` of every directory (deleteRecordings). On error everything
/// done so far is undone before returning.
pub fn set_aside_everywhere(dirs: &[PathBuf], record_id: &str) -> Result<Journal, FilesError> {
    let mut journal = Journal::default();
    if let Err(e) = set_aside_all(&mut journal, dirs, record_id) {
        journal.roll_back();
        return Err(e);
    }
    Ok(journal)
}

fn move_format(
    journal: &mut Journal,
    from: &Path,
    to: &Path,
    format: &str,
    record_id: &str,
) -> Result<(), FilesError> {
    let current = recording_dir(from, format, record_id)?;
    let target = recording_dir(to, format, record_id)?;
    let in_current = exists(&current)?;
    let in_target = exists(&target)?;
    match (in_current, in_target) {
        (false, true) => Ok(()),
        (false, false) => Err(FilesError::Missing {
            record_id: record_id.to_owned(),
            format: format.to_owned(),
        }),
        (true, true) => set_aside(journal, current),
        (true, false) => {
            let format_dir = target.parent().unwrap_or(to).to_path_buf();
            std::fs::create_dir_all(&format_dir).map_err(io_error("create", &format_dir))?;
            match std::fs::rename(&current, &target) {
                Ok(()) => {
                    journal.steps.push(Step::Renamed {
                        from: current,
                        to: target,
                    });
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                    // Recorded before copying, so a half-done copy is removed by the rollback.
                    journal.steps.push(Step::Copied {
                        from: current.clone(),
                        to: target.clone(),
                    });
                    copy_tree(&current, &target)
                }
                Err(e) => Err(FilesError::Io {
                    action: "move",
                    path: current,
                    source: e,
                }),
            }
        }
    }
}

fn set_aside_all(
    journal: &mut Journal,
    dirs: &[PathBuf],
    record_id: &str,
) -> Result<(), FilesError> {
    if !is_safe_segment(record_id) {
        return Err(FilesError::UnsafeName(record_id.to_owned()));
    }
    for dir in dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_error("list", dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_error("list", dir))?;
            // Only real format directories; a symbolic link is not followed out of the directory.
            let is_dir = entry
                .file_type()
                .map_err(io_error("inspect", &entry.path()))?
                .is_dir();
            if !is_dir {
                continue;
            }
            let candidate = entry.path().join(record_id);
            if exists(&candidate)? {
                set_aside(journal, candidate)?;
            }
        }
    }
    Ok(())
}

/// Rename `path` to a hidden sibling (`.<name>.deleting-<random>`), so it disappears at once and can come back.
fn set_aside(journal: &mut Journal, path: PathBuf) -> Result<(), FilesError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: u64 = rand::rng().random();
    let aside = path.with_file_name(format!(".{name}.deleting-{suffix:016x}"));
    std::fs::rename(&path, &aside).map_err(io_error("set aside", &path))?;
    journal.steps.push(Step::SetAside {
        original: path,
        aside,
    });
    Ok(())
}

/// `<base>/<format>/<record_id>`, both names checked.
fn recording_dir(base: &Path, format: &str, record_id: &str) -> Result<PathBuf, FilesError> {
    for name in [format, record_id] {
        if !is_safe_segment(name) {
            return Err(FilesError::UnsafeName(name.to_owned()));
        }
    }
    safe_join(base, &format!("{format}/{record_id}"))
        .map_err(|_| FilesError::UnsafeName(format!("{format}/{record_id}")))
}

/// Whether `path` exists, without following a final symbolic link.
fn exists(path: &Path) -> Result<bool, FilesError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("inspect", path)(e)),
    }
}

/// Copy a directory tree of plain files and directories; symbolic links are refused.
fn copy_tree(from: &Path, to: &Path) -> Result<(), FilesError> {
    std::fs::create_dir(to).map_err(io_error("create", to))?;
    for entry in std::fs::read_dir(from).map_err(io_error("list", from))? {
        let entry = entry.map_err(io_error("list", from))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().map_err(io_error("inspect", &source))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(io_error("copy", &source))?;
        } else {
            return Err(FilesError::Io {
                action: "copy",
                path: source,
                source: io::Error::other("not a regular file or directory"),
            });
        }
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FilesError {
    let path = path.to_path_buf();
    move |source| FilesError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests;
