use std::fs;
use std::path::Path;

use tar::{EntryType, Header};

use crate::archive::{ArchiveLimits, ExtractError, WriteFault, extract, extract_from};
use crate::fixture::build_tar;

/// A raw header with `name` written verbatim (no validation, unlike `Builder::append_data`).
fn raw_header(name: &[u8], kind: EntryType, size: u64) -> Header {
    let mut header = Header::new_gnu();
    let gnu = header.as_gnu_mut().expect("a GNU header");
    gnu.name[..name.len()].copy_from_slice(name);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    header
}

fn raw_tar(entries: &[(&[u8], EntryType, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, kind, data) in entries {
        let header = raw_header(name, *kind, data.len() as u64);
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn link_tar(name: &str, kind: EntryType, target: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(0);
    builder.append_link(&mut header, name, target).unwrap();
    builder.into_inner().unwrap()
}

/// `<tmp>/outer/target`, plus a sibling file the archive must never touch.
struct Sandbox {
    _dir: tempfile::TempDir,
    outer: std::path::PathBuf,
    target: std::path::PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outer = dir.path().join("outer");
        let target = outer.join("target");
        fs::create_dir_all(&target).unwrap();
        fs::write(outer.join("victim"), b"original").unwrap();
        Self {
            _dir: dir,
            outer,
            target,
        }
    }

    fn extract(&self, bytes: &[u8]) -> Result<crate::archive::Extracted, ExtractError> {
        self.extract_within(bytes, &ArchiveLimits::default())
    }

    fn extract_within(
        &self,
        bytes: &[u8],
        limits: &ArchiveLimits,
    ) -> Result<crate::archive::Extracted, ExtractError> {
        extract_from(bytes, &self.target, limits, None)
    }

    /// Nothing but `target` and the untouched victim next to it.
    fn assert_outside_untouched(&self) {
        let mut names: Vec<String> = fs::read_dir(&self.outer)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["target", "victim"]);
        assert_eq!(fs::read(self.outer.join("victim")).unwrap(), b"original");
        assert!(!Path::new("/tmp/scalelite-evil").exists());
        assert_no_links(&self.target);
    }
}

fn assert_no_links(dir: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        assert!(
            kind.is_dir() || kind.is_file(),
            "{:?} is neither",
            entry.path()
        );
        if kind.is_dir() {
            assert_no_links(&entry.path());
        }
    }
}

fn assert_unsafe(result: Result<crate::archive::Extracted, ExtractError>, why: &str) {
    match result {
        Err(ExtractError::Unsafe { why: got, .. }) => assert!(got.contains(why), "{got}"),
        other => panic!("expected an unsafe-entry error ({why}), got {other:?}"),
    }
}

#[test]
fn unpacks_directories_and_files_with_their_times() {
    let long = format!("presentation/r/{}/deep.txt", "d".repeat(120));
    let bytes = build_tar(&[
        ("presentation/".into(), None),
        ("presentation/r/".into(), None),
        (
            "presentation/r/metadata.xml".into(),
            Some(b"<recording/>".to_vec()),
        ),
        ("presentation/r/empty".into(), Some(Vec::new())),
        (
            "presentation/r/video/webcams.webm".into(),
            Some(vec![7u8; 300_000]),
        ),
        (long.clone(), Some(b"long name".to_vec())),
    ]);
    let sandbox = Sandbox::new();
    let extracted = sandbox.extract(&bytes).unwrap();
    assert_eq!(extracted.files, 4);
    assert_eq!(extracted.bytes, 12 + 300_000 + 9);
    let root = &sandbox.target;
    assert_eq!(
        fs::read(root.join("presentation/r/metadata.xml")).unwrap(),
        b"<recording/>"
    );
    assert_eq!(fs::read(root.join("presentation/r/empty")).unwrap(), b"");
    assert_eq!(
        fs::read(root.join("presentation/r/video/webcams.webm")).unwrap(),
        vec![7u8; 300_000]
    );
    assert_eq!(fs::read(root.join(&long)).unwrap(), b"long name");
    let modified = fs::metadata(root.join("presentation/r/metadata.xml"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        modified,
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000)
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn a_leading_dot_slash_is_accepted() {
    let bytes = raw_tar(&[
        (b"./", EntryType::Directory, b""),
        (b"./video/", EntryType::Directory, b""),
        (b"./video/r/metadata.xml", EntryType::Regular, b"x"),
    ]);
    let sandbox = Sandbox::new();
    sandbox.extract(&bytes).unwrap();
    assert_eq!(
        fs::read(sandbox.target.join("video/r/metadata.xml")).unwrap(),
        b"x"
    );
}

#[test]
fn later_duplicates_replace_earlier_files() {
    let bytes = raw_tar(&[
        (b"a/f", EntryType::Regular, b"first, longer"),
        (b"a/f", EntryType::Regular, b"second"),
    ]);
    let sandbox = Sandbox::new();
    sandbox.extract(&bytes).unwrap();
    assert_eq!(fs::read(sandbox.target.join("a/f")).unwrap(), b"second");
}

#[test]
fn traversal_and_absolute_paths_are_refused() {
    let cases: [(&[u8], &str); 6] = [
        (b"../scalelite-escape", "leaves"),
        (b"presentation/../../victim", "leaves"),
        (b"presentation/r/../../../victim", "leaves"),
        (b"/tmp/scalelite-evil", "absolute"),
        (b"presentation\\..\\..\\victim", "backslash"),
        (b"presentation/r/\xff\xfe", "UTF-8"),
    ];
    for (name, why) in cases {
        let sandbox = Sandbox::new();
        let bytes = raw_tar(&[
            (b"presentation/r/metadata.xml", EntryType::Regular, b"ok"),
            (name, EntryType::Regular, b"evil"),
        ]);
        assert_unsafe(sandbox.extract(&bytes), why);
        sandbox.assert_outside_untouched();
        // The same names as directories are refused too.
        let sandbox = Sandbox::new();
        let bytes = raw_tar(&[(name, EntryType::Directory, b"")]);
        assert_unsafe(sandbox.extract(&bytes), why);
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn traversal_through_long_names_and_pax_paths_is_refused() {
    // A GNU long name ('L' entry) carrying `..`.
    let long = format!("{}/../../../victim", "a/".repeat(60));
    let mut bytes = tar::Builder::new(Vec::new());
    let mut header = Header::new_gnu();
    let name = long.as_bytes();
    let mut long_header = raw_header(
        b"././@LongLink",
        EntryType::GNULongName,
        name.len() as u64 + 1,
    );
    long_header.set_cksum();
    let mut data = name.to_vec();
    data.push(0);
    bytes.append(&long_header, data.as_slice()).unwrap();
    header.set_entry_type(EntryType::Regular);
    header.set_size(4);
    header.as_gnu_mut().unwrap().name[..5].copy_from_slice(b"short");
    header.set_cksum();
    bytes.append(&header, &b"evil"[..]).unwrap();
    let sandbox = Sandbox::new();
    assert_unsafe(sandbox.extract(&bytes.into_inner().unwrap()), "leaves");
    sandbox.assert_outside_untouched();

    // A pax `path` record carrying `..`.
    let record = "path=../../victim\n";
    let pax = format!("{} {record}", record.len() + 3);
    assert_eq!(pax.len().to_string().len(), 2);
    let bytes = raw_tar(&[
        (b"PaxHeaders/x", EntryType::XHeader, pax.as_bytes()),
        (b"innocent", EntryType::Regular, b"evil"),
    ]);
    let sandbox = Sandbox::new();
    assert_unsafe(sandbox.extract(&bytes), "leaves");
    sandbox.assert_outside_untouched();
}

#[test]
fn links_devices_and_fifos_are_refused() {
    let cases = [
        (
            link_tar("presentation/r/evil", EntryType::Symlink, "../../victim"),
            "symbolic link",
        ),
        (
            link_tar("presentation/r/inside", EntryType::Symlink, "metadata.xml"),
            "symbolic link",
        ),
        (
            link_tar(
                "presentation/r/hard",
                EntryType::Link,
                "presentation/r/metadata.xml",
            ),
            "hard link",
        ),
        (raw_tar(&[(b"dev/null", EntryType::Char, b"")]), "device"),
        (raw_tar(&[(b"dev/sda", EntryType::Block, b"")]), "device"),
        (raw_tar(&[(b"pipe", EntryType::Fifo, b"")]), "pipe"),
    ];
    for (bytes, why) in cases {
        let sandbox = Sandbox::new();
        assert_unsafe(sandbox.extract(&bytes), why);
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn a_symlink_cannot_be_followed_by_a_later_entry() {
    // The classic two-step: a link to outside, then a file "through" it. The link is refused before.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = Header::new_gnu();
    header.set_entry_type(EntryType::Symlink);
    header.set_size(0);
    builder
        .append_link(&mut header, "presentation", "..")
        .unwrap();
    let file = raw_header(b"presentation/victim", EntryType::Regular, 4);
    builder.append(&file, &b"evil"[..]).unwrap();
    let sandbox = Sandbox::new();
    assert_unsafe(
        sandbox.extract(&builder.into_inner().unwrap()),
        "symbolic link",
    );
    sandbox.assert_outside_untouched();
}

#[test]
fn broken_archives_are_corrupt() {
    let good = build_tar(&[
        (
            "presentation/r/metadata.xml".into(),
            Some(b"<recording/>".to_vec()),
        ),
        ("presentation/r/big".into(), Some(vec![1u8; 10_000])),
    ]);
    // Cut inside the big file's data.
    let truncated = &good[..512 + 512 + 512 + 3000];
    let mut bad_checksum = good.clone();
    bad_checksum[0] ^= 0x20;
    let gzip_magic = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3].repeat(100);
    let cases: [(&str, &[u8]); 4] = [
        ("truncated", truncated),
        ("bad header checksum", &bad_checksum),
        ("text", &b"this is not a tar file at all".repeat(40)),
        ("gzip", &gzip_magic),
    ];
    for (what, bytes) in cases {
        let sandbox = Sandbox::new();
        match sandbox.extract(bytes) {
            Err(ExtractError::Corrupt(_)) => {}
            other => panic!("{what}: expected corrupt, got {other:?}"),
        }
        sandbox.assert_outside_untouched();
    }
}

#[test]
fn entries_that_conflict_with_each_other_are_corrupt() {
    let bytes = raw_tar(&[
        (b"a", EntryType::Regular, b"file"),
        (b"a/b", EntryType::Regular, b"under a file"),
    ]);
    let sandbox = Sandbox::new();
    assert!(matches!(
        sandbox.extract(&bytes),
        Err(ExtractError::Corrupt(_))
    ));
}

#[test]
fn an_empty_file_is_an_empty_archive() {
    let sandbox = Sandbox::new();
    assert_eq!(sandbox.extract(b"").unwrap().files, 0);
    assert_eq!(sandbox.extract(&[0u8; 1024]).unwrap().files, 0);
}

#[test]
fn a_missing_archive_is_an_io_error() {
    let sandbox = Sandbox::new();
    assert!(matches!(
        extract(
            &sandbox.outer.join("nope.tar"),
            &sandbox.target,
            &ArchiveLimits::default(),
            None
        ),
        Err(ExtractError::Io { .. })
    ));
}

// --- limits -----------------------------------------------------------------------------------------------------

/// `files` regular files of `size` bytes each under `presentation/r1/`, plus that directory: `files + 1` entries.
fn tar_of(files: usize, size: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = Header::new_gnu();
    dir.set_entry_type(EntryType::Directory);
    dir.set_size(0);
    dir.set_mode(0o755);
    builder
        .append_data(&mut dir, "presentation/r1/", std::io::empty())
        .unwrap();
    for i in 0..files {
        let mut header = Header::new_gnu();
        header.set_size(size as u64);
        header.set_mode(0o644);
        builder
            .append_data(
                &mut header,
                format!("presentation/r1/f{i}"),
                &vec![b'x'; size][..],
            )
            .unwrap();
    }
    builder.into_inner().unwrap()
}

fn over_limit(result: Result<crate::archive::Extracted, ExtractError>, variable: &str) {
    match result {
        Err(ExtractError::OverLimit(why)) => assert!(why.contains(variable), "{why}"),
        other => panic!("expected an over-limit refusal naming {variable}, got {other:?}"),
    }
}

#[test]
fn entry_count_limit() {
    let limits = ArchiveLimits {
        max_entries: 4,
        ..ArchiveLimits::default()
    };
    // 1 directory + 3 files = 4 entries: at the limit.
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox
            .extract_within(&tar_of(3, 1), &limits)
            .unwrap()
            .files,
        3
    );
    let sandbox = Sandbox::new();
    over_limit(
        sandbox.extract_within(&tar_of(4, 1), &limits),
        "RECORDING_IMPORT_MAX_ENTRIES",
    );
}

#[test]
fn file_size_limit() {
    let limits = ArchiveLimits {
        max_file_bytes: 1000,
        ..ArchiveLimits::default()
    };
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox
            .extract_within(&tar_of(1, 1000), &limits)
            .unwrap()
            .bytes,
        1000
    );
    let sandbox = Sandbox::new();
    over_limit(
        sandbox.extract_within(&tar_of(1, 1001), &limits),
        "RECORDING_IMPORT_MAX_FILE_SIZE",
    );
    // Refused before a byte of it is written.
    assert!(!sandbox.target.join("presentation/r1/f0").exists());
}

#[test]
fn total_size_limit() {
    let limits = ArchiveLimits {
        max_total_bytes: 3000,
        ..ArchiveLimits::default()
    };
    let sandbox = Sandbox::new();
    assert_eq!(
        sandbox
            .extract_within(&tar_of(3, 1000), &limits)
            .unwrap()
            .bytes,
        3000
    );
    let sandbox = Sandbox::new();
    over_limit(
        sandbox.extract_within(&tar_of(3, 1001), &limits),
        "RECORDING_IMPORT_MAX_SIZE",
    );
    // The files before the one that passes the limit were written; the rest was not.
    assert!(sandbox.target.join("presentation/r1/f1").exists());
    assert!(!sandbox.target.join("presentation/r1/f2").exists());
}

#[test]
fn sparse_entries_are_refused() {
    // Old GNU sparse entry (type 'S'): one byte stored, a terabyte announced.
    let mut header = raw_header(b"presentation/r1/big", EntryType::GNUSparse, 1);
    let gnu = header.as_gnu_mut().unwrap();
    gnu.set_real_size(1 << 40);
    gnu.sparse[0].set_offset((1 << 40) - 1);
    gnu.sparse[0].set_length(1);
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, &b"x"[..]).unwrap();
    let sandbox = Sandbox::new();
    assert_unsafe(sandbox.extract(&builder.into_inner().unwrap()), "sparse");

    // PAX sparse (format 1.0): a regular entry announced by GNU.sparse.* records.
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_pax_extensions([
            ("GNU.sparse.major", &b"1"[..]),
            ("GNU.sparse.minor", &b"0"[..]),
            ("GNU.sparse.name", &b"presentation/r1/big"[..]),
            ("GNU.sparse.realsize", &b"1099511627776"[..]),
        ])
        .unwrap();
    let mut header = Header::new_ustar();
    header.set_size(0);
    header.set_mode(0o644);
    builder
        .append_data(
            &mut header,
            "presentation/r1/GNUSparseFile.0/big",
            std::io::empty(),
        )
        .unwrap();
    let sandbox = Sandbox::new();
    assert_unsafe(sandbox.extract(&builder.into_inner().unwrap()), "sparse");
}

#[test]
fn a_full_disk_is_this_machines_fault() {
    let sandbox = Sandbox::new();
    let fault: WriteFault =
        std::sync::Arc::new(|_: &Path| Err(std::io::Error::from(std::io::ErrorKind::StorageFull)));
    match extract_from(
        &tar_of(1, 10)[..],
        &sandbox.target,
        &ArchiveLimits::default(),
        Some(&fault),
    ) {
        Err(ExtractError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
