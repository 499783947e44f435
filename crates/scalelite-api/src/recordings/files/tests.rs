use std::fs;
use std::path::{Path, PathBuf};

use crate::recordings::files::{FilesError, move_formats, set_aside_everywhere};

struct Dirs {
    _tmp: tempfile::TempDir,
    published: PathBuf,
    unpublished: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let published = tmp.path().join("published");
    let unpublished = tmp.path().join("unpublished");
    fs::create_dir_all(&published).unwrap();
    fs::create_dir_all(&unpublished).unwrap();
    Dirs {
        _tmp: tmp,
        published,
        unpublished,
    }
}

/// `<base>/<format>/<record_id>/index.html` containing `content`, plus a nested file.
fn put(base: &Path, format: &str, record_id: &str, content: &str) {
    let dir = base.join(format).join(record_id);
    fs::create_dir_all(dir.join("nested")).unwrap();
    fs::write(dir.join("index.html"), content).unwrap();
    fs::write(dir.join("nested/file.txt"), "nested").unwrap();
}

fn read(base: &Path, format: &str, record_id: &str) -> Option<String> {
    fs::read_to_string(base.join(format).join(record_id).join("index.html")).ok()
}

/// Every entry under `dir`, relative, sorted (hidden set-aside copies included).
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn formats(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn moves_each_format_and_commit_keeps_the_move() {
    let d = dirs();
    put(&d.published, "presentation", "r1", "p");
    put(&d.published, "podcast", "r1", "a");
    let journal = move_formats(
        &d.published,
        &d.unpublished,
        &formats(&["podcast", "presentation"]),
        "r1",
    )
    .unwrap();
    journal.commit();
    assert_eq!(
        read(&d.unpublished, "presentation", "r1").as_deref(),
        Some("p")
    );
    assert_eq!(read(&d.unpublished, "podcast", "r1").as_deref(), Some("a"));
    assert!(read(&d.published, "presentation", "r1").is_none());
    assert!(
        d.unpublished
            .join("presentation/r1/nested/file.txt")
            .exists()
    );
    // Empty format directories stay, nothing else is left behind.
    assert_eq!(tree(&d.published), ["podcast", "presentation"]);
}

#[test]
fn roll_back_puts_the_files_back() {
    let d = dirs();
    put(&d.unpublished, "presentation", "r1", "p");
    let before = (tree(&d.published), tree(&d.unpublished));
    let journal = move_formats(
        &d.unpublished,
        &d.published,
        &formats(&["presentation"]),
        "r1",
    )
    .unwrap();
    assert_eq!(
        read(&d.published, "presentation", "r1").as_deref(),
        Some("p")
    );
    journal.roll_back();
    assert_eq!(
        read(&d.unpublished, "presentation", "r1").as_deref(),
        Some("p")
    );
    assert!(read(&d.published, "presentation", "r1").is_none());
    // The created format directory may stay; the recording itself is only in its old place.
    assert_eq!(tree(&d.unpublished), before.1);
}

#[test]
fn already_in_target_is_skipped_and_both_removes_the_current_copy() {
    let d = dirs();
    put(&d.unpublished, "presentation", "r1", "target");
    put(&d.published, "video", "r1", "old");
    put(&d.unpublished, "video", "r1", "new");
    let journal = move_formats(
        &d.published,
        &d.unpublished,
        &formats(&["presentation", "video"]),
        "r1",
    )
    .unwrap();
    // Before commit the old copy is set aside (hidden), not yet removed.
    assert!(read(&d.published, "video", "r1").is_none());
    assert_eq!(tree(&d.published).len(), 2 + 3, "{:?}", tree(&d.published));
    journal.commit();
    assert_eq!(tree(&d.published), ["video"]);
    assert_eq!(read(&d.unpublished, "video", "r1").as_deref(), Some("new"));
    assert_eq!(
        read(&d.unpublished, "presentation", "r1").as_deref(),
        Some("target")
    );
}

#[test]
fn both_copies_restored_on_roll_back() {
    let d = dirs();
    put(&d.published, "video", "r1", "old");
    put(&d.unpublished, "video", "r1", "new");
    move_formats(&d.published, &d.unpublished, &formats(&["video"]), "r1")
        .unwrap()
        .roll_back();
    assert_eq!(read(&d.published, "video", "r1").as_deref(), Some("old"));
    assert_eq!(read(&d.unpublished, "video", "r1").as_deref(), Some("new"));
    assert_eq!(tree(&d.published), tree(&d.unpublished));
}

#[test]
fn missing_files_fail_and_undo_earlier_formats() {
    let d = dirs();
    put(&d.published, "podcast", "r1", "a");
    let before = (tree(&d.published), tree(&d.unpublished));
    let error = move_formats(
        &d.published,
        &d.unpublished,
        &formats(&["podcast", "presentation"]),
        "r1",
    )
    .unwrap_err();
    assert!(
        matches!(&error, FilesError::Missing { format, .. } if format == "presentation"),
        "{error}"
    );
    assert_eq!(read(&d.published, "podcast", "r1").as_deref(), Some("a"));
    assert_eq!(before.0, tree(&d.published));
    assert!(read(&d.unpublished, "podcast", "r1").is_none());
}

#[test]
fn unsafe_names_are_refused_before_touching_anything() {
    let d = dirs();
    put(&d.published, "presentation", "r1", "p");
    for (format, record_id) in [
        ("..", "r1"),
        ("presentation", ".."),
        ("presentation", "../../etc"),
        ("a/b", "r1"),
        ("presentation", ""),
    ] {
        let error =
            move_formats(&d.published, &d.unpublished, &formats(&[format]), record_id).unwrap_err();
        assert!(
            matches!(error, FilesError::UnsafeName(_)),
            "{format} {record_id}"
        );
    }
    for record_id in ["..", ".", "", "../presentation", "a\\b"] {
        let error =
            set_aside_everywhere(std::slice::from_ref(&d.published), record_id).unwrap_err();
        assert!(matches!(error, FilesError::UnsafeName(_)), "{record_id}");
    }
    assert_eq!(
        read(&d.published, "presentation", "r1").as_deref(),
        Some("p")
    );
}

#[test]
fn delete_sets_aside_every_copy_then_commit_removes_them() {
    let d = dirs();
    put(&d.published, "presentation", "r1", "p");
    put(&d.published, "podcast", "r1", "a");
    put(&d.unpublished, "video", "r1", "v");
    put(&d.published, "presentation", "r2", "other");
    let all = [d.published.clone(), d.unpublished.clone()];
    let journal = set_aside_everywhere(&all, "r1").unwrap();
    assert!(read(&d.published, "presentation", "r1").is_none());
    assert!(read(&d.unpublished, "video", "r1").is_none());
    journal.commit();
    assert_eq!(
        tree(&d.published),
        [
            "podcast",
            "presentation",
            "presentation/r2",
            "presentation/r2/index.html",
            "presentation/r2/nested",
            "presentation/r2/nested/file.txt"
        ]
    );
    assert_eq!(tree(&d.unpublished), ["video"]);
}

#[test]
fn delete_roll_back_restores_every_copy() {
    let d = dirs();
    put(&d.published, "presentation", "r1", "p");
    put(&d.unpublished, "video", "r1", "v");
    let before = (tree(&d.published), tree(&d.unpublished));
    let all = [d.published.clone(), d.unpublished.clone()];
    set_aside_everywhere(&all, "r1").unwrap().roll_back();
    assert_eq!((tree(&d.published), tree(&d.unpublished)), before);
}

#[test]
fn delete_with_missing_directories_or_files_is_fine() {
    let d = dirs();
    let all = [d.published.join("absent"), d.unpublished.clone()];
    set_aside_everywhere(&all, "r1").unwrap().commit();
    // A plain file at the format level is not a format directory.
    fs::write(d.unpublished.join("stray"), "x").unwrap();
    set_aside_everywhere(&all, "r1").unwrap().commit();
    assert_eq!(tree(&d.unpublished), ["stray"]);
}

#[cfg(unix)]
#[test]
fn delete_does_not_follow_a_format_symlink_out_of_the_directory() {
    let d = dirs();
    let outside = d.published.parent().unwrap().join("outside");
    put(&outside, "presentation", "r1", "precious");
    std::os::unix::fs::symlink(
        outside.join("presentation"),
        d.published.join("presentation"),
    )
    .unwrap();
    set_aside_everywhere(std::slice::from_ref(&d.published), "r1")
        .unwrap()
        .commit();
    assert_eq!(
        read(&outside, "presentation", "r1").as_deref(),
        Some("precious")
    );
}
