//! The one place where a path built from outside input (a request, an archive entry, metadata) is joined to a
//! directory. Everything that does so goes through `safe_join`, so nothing can leave its directory.

use std::path::{Component, Path, PathBuf};

/// Why a relative path was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsafePath {
    #[error("empty path")]
    Empty,
    #[error("absolute path")]
    Absolute,
    #[error("path leaves its directory")]
    Traversal,
    #[error("path contains a NUL byte or a backslash")]
    BadCharacter,
}

/// Join `relative` (a `/`-separated path from outside input) under `base`. Refused: empty paths, absolute paths,
/// `..` components, Windows prefixes, NUL bytes and backslashes. `.` components and repeated slashes are dropped.
/// Symbolic links already inside `base` are the caller's concern (the importer refuses to create any).
pub fn safe_join(base: &Path, relative: &str) -> Result<PathBuf, UnsafePath> {
    if relative.contains('\0') || relative.contains('\\') {
        return Err(UnsafePath::BadCharacter);
    }
    if relative.starts_with('/') {
        return Err(UnsafePath::Absolute);
    }
    let mut joined = base.to_path_buf();
    let mut parts = 0;
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => {
                joined.push(part);
                parts += 1;
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(UnsafePath::Traversal),
            Component::RootDir | Component::Prefix(_) => return Err(UnsafePath::Absolute),
        }
    }
    if parts == 0 {
        return Err(UnsafePath::Empty);
    }
    Ok(joined)
}

/// A single path segment (a record id, a format name) that must not contain a separator or be `.`/`..`.
pub fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty() && segment != "." && segment != ".." && !segment.contains(['/', '\\', '\0'])
}

#[cfg(test)]
mod tests;
