//! The documentation stays true: every variable the services read is in the README's table.

use scalelite_core::config::ENV_VARS;

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn readme_lists_every_environment_variable() {
    let readme = repo_file("README.md");
    let missing: Vec<&str> = ENV_VARS
        .iter()
        .map(|(name, _, _)| *name)
        .filter(|name| !readme.contains(&format!("| `{name}` |")))
        .collect();
    assert!(missing.is_empty(), "README.md's table lacks {missing:?}");
}

#[test]
fn readme_gives_the_run_and_test_commands_ci_uses() {
    let readme = repo_file("README.md");
    let ci = repo_file(".ci/run");
    assert!(readme.contains("cargo run --release -p scalelite-api -- --all-in-one"));
    assert!(readme.contains("\ncargo test --workspace\n"));
    assert!(
        ci.contains("cargo test --workspace"),
        ".ci/run runs the README's test command"
    );
}
