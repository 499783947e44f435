use super::*;

#[test]
fn files_are_listed_relative_to_the_format_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("presentation/r1");
    std::fs::create_dir_all(root.join("slides/deep")).unwrap();
    std::fs::write(root.join("metadata.xml"), "m").unwrap();
    std::fs::write(root.join("slides/deep/a.png"), "a").unwrap();
    std::fs::create_dir_all(root.join("empty")).unwrap();
    let mut files = Vec::new();
    list_files(&root, &root, &mut files).unwrap();
    files.sort();
    let relative: Vec<&str> = files.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(relative, ["metadata.xml", "slides/deep/a.png"]);
    assert_eq!(files[1].1, root.join("slides/deep/a.png"));
}
