//! The documentation stays true: every variable the services read is in the README's table, and every variable of
//! that table has a configuration contract test.

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

/// The variables of README's configuration table, in order: the first backticked name of each row.
fn readme_variables(readme: &str) -> Vec<String> {
    let section = readme
        .split_once("## Configuration")
        .map(|(_, rest)| rest)
        .expect("README has a Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(name, _)| name.to_owned()))
        .collect()
}

/// Every `fn contract_<name>` in `crates/*/tests/config_contract*.rs`, whoever wrote the file.
fn contract_tests() -> std::collections::BTreeSet<String> {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut names = std::collections::BTreeSet::new();
    for package in std::fs::read_dir(&crates).expect("crates/") {
        let tests = package.expect("an entry").path().join("tests");
        let Ok(files) = std::fs::read_dir(&tests) else {
            continue;
        };
        for file in files {
            let path = file.expect("an entry").path();
            let file_name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !(file_name.starts_with("config_contract") && file_name.ends_with(".rs")) {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            names.extend(
                text.split("fn contract_")
                    .skip(1)
                    .filter_map(|rest| {
                        rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .next()
                    })
                    .map(str::to_owned),
            );
        }
    }
    names
}

/// Variables of the table that have no contract test yet. FIXME: each needs a `contract_<name>` test; the check
/// below fails as soon as one gets it, so this list only shrinks.
const WITHOUT_CONTRACT_TEST: &[&str] = &[];

/// Every variable in README's configuration table has a `fn contract_<variable in lower case>` test in some
/// `crates/*/tests/config_contract*.rs` that sets it in a real binary's environment and observes its effect.
#[test]
fn every_readme_variable_has_a_contract_test() {
    let readme = repo_file("README.md");
    let variables = readme_variables(&readme);
    assert!(
        variables.len() > 50,
        "README's table was read: {variables:?}"
    );
    let tests = contract_tests();
    let missing: Vec<&str> = variables
        .iter()
        .map(String::as_str)
        .filter(|name| !tests.contains(&name.to_ascii_lowercase()))
        .filter(|name| !WITHOUT_CONTRACT_TEST.contains(name))
        .collect();
    assert!(
        missing.is_empty(),
        "no configuration contract test for {missing:?}: add `fn contract_<name in lower case>` to a \
         crates/<package>/tests/config_contract_<topic>.rs that sets the variable in the real binary's environment"
    );
    let stale: Vec<&&str> = WITHOUT_CONTRACT_TEST
        .iter()
        .filter(|name| tests.contains(&name.to_ascii_lowercase()))
        .collect();
    assert!(
        stale.is_empty(),
        "{stale:?} now have contract tests: remove them from WITHOUT_CONTRACT_TEST"
    );
}

/// Every variable the original reads that we ignore has a contract test showing it is ignored.
#[test]
fn every_ignored_variable_has_a_contract_test() {
    let tests = contract_tests();
    let missing: Vec<&str> = scalelite_core::config::IGNORED_VARIABLES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !tests.contains(&name.to_ascii_lowercase()))
        .collect();
    assert!(
        missing.is_empty(),
        "no contract test shows {missing:?} are ignored"
    );
}
