use std::fs;
use std::time::{Duration, SystemTime};

use crate::spool::{TarIdentity, list, move_to_failed, remove};

#[test]
fn lists_visible_tars_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path();
    for name in [
        "b.tar",
        "a.tar",
        ".a.tar.x1y2",
        "c.tar.gz",
        "notes.txt",
        "c.TAR",
    ] {
        fs::write(spool.join(name), b"x").unwrap();
    }
    fs::create_dir(spool.join("dir.tar")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(spool.join("a.tar"), spool.join("link.tar")).unwrap();
    let names: Vec<_> = list(spool)
        .unwrap()
        .into_iter()
        .map(|e| e.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.tar", "b.tar"]);
}

#[test]
fn removes_only_the_file_that_was_imported() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("r.tar");
    fs::write(&tar, b"first").unwrap();
    let first = TarIdentity::of(&tar).unwrap();
    // A newer copy renamed over the same name (what rsync does).
    let newer = dir.path().join(".r.tar.tmp");
    fs::write(&newer, b"second copy").unwrap();
    fs::rename(&newer, &tar).unwrap();
    assert!(!remove(&tar, &first).unwrap());
    assert_eq!(fs::read(&tar).unwrap(), b"second copy");
    let second = TarIdentity::of(&tar).unwrap();
    assert!(remove(&tar, &second).unwrap());
    assert!(!tar.exists());
    assert!(!remove(&tar, &second).unwrap(), "already gone is fine");
}

#[test]
fn moves_to_failed_with_a_reason_and_a_free_name() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let failed = dir.path().join("failed");
    fs::create_dir_all(&spool).unwrap();
    for (n, expected) in [(0, "r.tar"), (1, "r.1.tar"), (2, "r.2.tar")] {
        let tar = spool.join("r.tar");
        fs::write(&tar, format!("copy {n}")).unwrap();
        let identity = TarIdentity::of(&tar).unwrap();
        let moved = move_to_failed(&tar, &identity, &failed, &format!("reason {n}"))
            .unwrap()
            .unwrap();
        assert_eq!(moved, failed.join(expected));
        assert!(!tar.exists());
        assert_eq!(fs::read_to_string(&moved).unwrap(), format!("copy {n}"));
        assert_eq!(
            fs::read_to_string(failed.join(format!("{expected}.reason"))).unwrap(),
            format!("reason {n}\n")
        );
    }
    // A replaced file is left alone.
    let tar = spool.join("s.tar");
    fs::write(&tar, b"old").unwrap();
    let old = TarIdentity::of(&tar).unwrap();
    fs::remove_file(&tar).unwrap();
    fs::write(spool.join(".s"), b"newer").unwrap();
    fs::rename(spool.join(".s"), &tar).unwrap();
    assert_eq!(move_to_failed(&tar, &old, &failed, "x").unwrap(), None);
    assert!(tar.exists());
}

#[test]
fn freshness_follows_the_modification_time() {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("r.tar");
    fs::write(&tar, b"x").unwrap();
    let identity = TarIdentity::of(&tar).unwrap();
    let now = SystemTime::now();
    assert!(identity.is_fresh(now, Duration::from_secs(60)));
    assert!(!identity.is_fresh(now + Duration::from_secs(61), Duration::from_secs(60)));
    assert!(!identity.is_fresh(now, Duration::ZERO));
}
