use std::fs;
use std::path::{Path, PathBuf};

use crate::place::{Destinations, copy_tree, find_formats, place_format};

fn write(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

#[test]
fn finds_format_dirs_with_metadata_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("video/r1/metadata.xml"), "v");
    write(&root.join("presentation/r1/metadata.xml"), "p");
    write(&root.join("presentation/r0/metadata.xml"), "p0");
    write(&root.join("presentation/r2/slides.svg"), "no metadata here");
    write(&root.join("podcast/r1/deeper/metadata.xml"), "wrong depth");
    write(&root.join("loose.txt"), "ignored");
    fs::create_dir_all(root.join("notes/r1/metadata.xml")).unwrap(); // a directory, not a file
    let found: Vec<(String, String)> = find_formats(root)
        .unwrap()
        .into_iter()
        .map(|f| {
            assert_eq!(f.dir, root.join(&f.format).join(&f.record_id));
            (f.format, f.record_id)
        })
        .collect();
    let expected = [
        ("presentation", "r0"),
        ("presentation", "r1"),
        ("video", "r1"),
    ];
    assert_eq!(
        found,
        expected.map(|(f, r)| (f.to_owned(), r.to_owned())).to_vec()
    );
}

struct Trees {
    _dir: tempfile::TempDir,
    work: PathBuf,
    publish: PathBuf,
    unpublish: PathBuf,
    trash: PathBuf,
}

impl Trees {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let trash = work.join("trash");
        fs::create_dir_all(&work).unwrap();
        Self {
            publish: dir.path().join("published"),
            unpublish: dir.path().join("unpublished"),
            work,
            trash,
            _dir: dir,
        }
    }

    fn to(&self) -> Destinations<'_> {
        Destinations {
            publish: &self.publish,
            unpublish: &self.unpublish,
            trash: &self.trash,
        }
    }

    /// An unpacked `<format>/<record>` directory in the work tree.
    fn source(&self, name: &str, marker: &str) -> PathBuf {
        let source = self.work.join(name);
        write(&source.join("metadata.xml"), marker);
        write(&source.join("video/webcams.webm"), marker);
        source
    }
}

#[test]
fn places_into_the_publish_tree() {
    let trees = Trees::new();
    let source = trees.source("s1", "new");
    let placed = place_format(&source, "presentation", "r1", true, &trees.to()).unwrap();
    assert_eq!(placed, trees.publish.join("presentation/r1"));
    assert_eq!(read(&placed.join("metadata.xml")), "new");
    assert_eq!(read(&placed.join("video/webcams.webm")), "new");
    assert!(!source.exists(), "moved, not copied");
    assert!(!trees.unpublish.join("presentation/r1").exists());
}

#[test]
fn replaces_old_copies_in_both_trees() {
    let trees = Trees::new();
    write(&trees.publish.join("presentation/r1/old-only.txt"), "old");
    write(&trees.unpublish.join("presentation/r1/metadata.xml"), "old");
    write(
        &trees.publish.join("presentation/r2/metadata.xml"),
        "neighbour",
    );
    let source = trees.source("s1", "new");
    let placed = place_format(&source, "presentation", "r1", false, &trees.to()).unwrap();
    assert_eq!(placed, trees.unpublish.join("presentation/r1"));
    assert_eq!(read(&placed.join("metadata.xml")), "new");
    assert!(!placed.join("old-only.txt").exists());
    assert!(!trees.publish.join("presentation/r1").exists());
    assert_eq!(
        read(&trees.publish.join("presentation/r2/metadata.xml")),
        "neighbour"
    );
    // The replaced copies went to the trash, which is deleted with the scratch directory.
    assert_eq!(fs::read_dir(&trees.trash).unwrap().count(), 2);

    // And back to published on the next import.
    let source = trees.source("s2", "newer");
    place_format(&source, "presentation", "r1", true, &trees.to()).unwrap();
    assert_eq!(
        read(&trees.publish.join("presentation/r1/metadata.xml")),
        "newer"
    );
    assert!(!trees.unpublish.join("presentation/r1").exists());
}

#[test]
fn refuses_unsafe_names() {
    let trees = Trees::new();
    let source = trees.source("s1", "new");
    for (format, record) in [
        ("..", "r"),
        ("presentation", ".."),
        ("a/b", "r"),
        ("p", ""),
        ("p", "r\\x"),
    ] {
        assert!(place_format(&source, format, record, true, &trees.to()).is_err());
    }
    assert!(source.join("metadata.xml").exists());
    assert!(!trees.publish.exists());
}

#[test]
fn copy_tree_copies_files_and_directories() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("from/a/b/c.txt"), "c");
    write(&dir.path().join("from/top.txt"), "top");
    fs::create_dir_all(dir.path().join("from/empty")).unwrap();
    copy_tree(&dir.path().join("from"), &dir.path().join("to")).unwrap();
    assert_eq!(read(&dir.path().join("to/a/b/c.txt")), "c");
    assert_eq!(read(&dir.path().join("to/top.txt")), "top");
    assert!(dir.path().join("to/empty").is_dir());
}

#[test]
fn places_across_filesystems_by_copying_first() {
    // /dev/shm is a tmpfs on Linux, normally another filesystem than the temporary directory; where it is not
    // (or is missing), this exercises the rename path with the same expectations.
    let shm = Path::new("/dev/shm");
    let publish_root = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let trees = Trees::new();
    let publish = publish_root.path().join("published");
    write(&publish.join("video/r1/stale.txt"), "old");
    let to = Destinations {
        publish: &publish,
        unpublish: &trees.unpublish,
        trash: &trees.trash,
    };
    let source = trees.source("s1", "new");
    let placed = place_format(&source, "video", "r1", true, &to).unwrap();
    assert_eq!(read(&placed.join("metadata.xml")), "new");
    assert_eq!(read(&placed.join("video/webcams.webm")), "new");
    assert!(!placed.join("stale.txt").exists());
    // No staging directory is left next to the target.
    let names: Vec<_> = fs::read_dir(publish.join("video"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["r1"]);
}
