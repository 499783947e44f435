//! The documentation stays true: every variable the services read is in the README's table, and every variable of
//! that table has a configuration contract test. The repository stands on its own: no tracked file refers to
//! documents outside it, and every Markdown link and every `docs/<file>.md#<anchor>` citation (code comments
//! included) points at an existing file and anchor.

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

// ---------------------------------------------------------------------------------------------------------------
// The repository stands on its own: no references to documents outside it, and no dead links or anchors.

/// The repository's root (this crate lives in `tests/`).
fn repo_root() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// Every file git tracks (so never `target/`), with its text; files that are not UTF-8 text or that are missing
/// from the work tree are left out.
fn tracked_text_files() -> Vec<(String, String)> {
    let root = repo_root();
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(&root)
        .args(["ls-files", "-z"])
        .output()
        .expect("git runs (the documentation checks read the files git tracks)");
    assert!(
        output.status.success(),
        "git ls-files: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listing = String::from_utf8(output.stdout).expect("UTF-8 file names");
    let files: Vec<(String, String)> = listing
        .split('\0')
        .filter(|path| !path.is_empty())
        .filter_map(|path| {
            let bytes = std::fs::read(root.join(path)).ok()?;
            let text = String::from_utf8(bytes).ok()?;
            (!text.contains('\0')).then(|| (path.to_owned(), text))
        })
        .collect();
    assert!(
        files.len() > 100,
        "git ls-files listed {} files",
        files.len()
    );
    files
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Names of documents that live outside this repository. Written in pieces so that this file does not name them.
fn outside_documents() -> Vec<String> {
    let mut names = vec![format!("..{}shared", '/')];
    names.extend(
        ["bbb-api", "operations", "bbb-wire", "DECISIONS", "field"]
            .iter()
            .map(|stem| format!("{stem}{}md", '.')),
    );
    names
}

/// `text[at..]` starts a name of its own: the character before is not part of a file name.
fn starts_a_name(text: &str, at: usize) -> bool {
    text[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '-'))
}

#[test]
fn no_file_refers_to_documents_outside_the_repository() {
    let names = outside_documents();
    let mut found = Vec::new();
    for (path, text) in tracked_text_files() {
        for name in &names {
            for (at, _) in text.match_indices(name.as_str()) {
                if name.starts_with('.') || starts_a_name(&text, at) {
                    found.push(format!("{path}:{}: {name}", line_of(&text, at)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "these refer to documents outside the repository; cite docs/compatibility.md#<anchor> instead, or state \
         the rule in place:\n{}",
        found.join("\n")
    );
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces become `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown document outside fenced code blocks, with their 1-based numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((i + 1, line));
        }
    }
    lines
}

/// The anchors of a Markdown document: explicit `<a id="...">`/`<a name="...">`, and heading slugs (a repeated
/// slug gets `-1`, `-2`, ... as on GitHub).
fn anchors(text: &str) -> std::collections::BTreeSet<String> {
    let mut anchors = std::collections::BTreeSet::new();
    for (_, line) in prose_lines(text) {
        for attribute in ["<a id=\"", "<a name=\""] {
            for (at, _) in line.match_indices(attribute) {
                let rest = &line[at + attribute.len()..];
                if let Some(end) = rest.find('"') {
                    anchors.insert(rest[..end].to_owned());
                }
            }
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(line[hashes..].trim_end_matches('#'));
            let mut candidate = base.clone();
            let mut n = 0;
            while anchors.contains(&candidate) {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            anchors.insert(candidate);
        }
    }
    anchors
}

/// A line with its inline code spans removed (a link inside backticks is an example, not a link).
fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// The link targets of a Markdown document with their lines: `[text](target)`, `![alt](target)` and reference
/// definitions `[label]: target`.
fn markdown_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                let target = rest[..end].split_whitespace().next().unwrap_or_default();
                links.push((number, target.trim_matches(['<', '>']).to_owned()));
            }
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]: ")
        {
            links.push((
                number,
                target
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    }
    links
}

/// Every `docs/<name>.md#<anchor>` in a text, with its line: the citations code comments and documents use.
fn doc_citations(text: &str) -> Vec<(usize, String)> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-');
    let is_anchor = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-');
    let mut citations = Vec::new();
    for (at, _) in text.match_indices("docs/") {
        let rest = &text[at..];
        let path_end = rest.find(|c: char| !is_path(c)).unwrap_or(rest.len());
        let path = rest[..path_end].trim_end_matches('.');
        if !path.ends_with(".md") || !rest[path.len()..].starts_with('#') {
            continue;
        }
        let after = &rest[path.len() + 1..];
        let anchor_end = after.find(|c: char| !is_anchor(c)).unwrap_or(after.len());
        if anchor_end > 0 {
            let anchor = after[..anchor_end].trim_end_matches('-');
            citations.push((line_of(text, at), format!("{path}#{anchor}")));
        }
    }
    citations
}

/// Check one link target (`path`, `path#anchor` or `#anchor`) relative to `base` (a directory of the repository,
/// `""` for its root); `from` is the document it appears in. Returns what is wrong with it.
fn check_target(
    root: &std::path::Path,
    from: &str,
    base: &std::path::Path,
    target: &str,
    cache: &mut std::collections::HashMap<std::path::PathBuf, std::collections::BTreeSet<String>>,
) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let file = if path.is_empty() {
        root.join(from)
    } else {
        root.join(base).join(path)
    };
    let shown = file
        .strip_prefix(root)
        .unwrap_or(&file)
        .display()
        .to_string();
    if !file.exists() {
        return Some(format!("{target}: {shown} does not exist"));
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if file.extension().and_then(|e| e.to_str()) != Some("md") {
        return None;
    }
    let known = cache.entry(file.clone()).or_insert_with(|| {
        anchors(
            &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
        )
    });
    (!known.contains(anchor)).then(|| format!("{target}: no anchor #{anchor} in {shown}"))
}

#[test]
fn links_and_citations_point_at_existing_files_and_anchors() {
    let root = repo_root();
    let mut cache = std::collections::HashMap::new();
    let mut broken = Vec::new();
    let (mut links, mut citations) = (0, 0);
    for (path, text) in tracked_text_files() {
        if path.ends_with(".md") {
            let base = std::path::Path::new(&path)
                .parent()
                .unwrap_or(std::path::Path::new(""));
            for (line, target) in markdown_links(&text) {
                if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                    continue;
                }
                links += 1;
                if let Some(problem) = check_target(&root, &path, base, &target, &mut cache) {
                    broken.push(format!("{path}:{line}: link {problem}"));
                }
            }
        }
        for (line, citation) in doc_citations(&text) {
            citations += 1;
            if let Some(problem) = check_target(
                &root,
                &path,
                std::path::Path::new(""),
                &citation,
                &mut cache,
            ) {
                broken.push(format!("{path}:{line}: citation {problem}"));
            }
        }
    }
    assert!(
        links > 100 && citations > 50,
        "{links} links and {citations} citations were read"
    );
    assert!(
        broken.is_empty(),
        "broken links and citations:\n{}",
        broken.join("\n")
    );
}

#[test]
fn the_link_checker_sees_what_github_sees() {
    let doc = "# Title\n<a id=\"x-y\"></a>\n## 3.1 Routing (`/api`)\n## Title\n```\n## not a heading\n```\n\
               See [a](b.md#c), `[not](a-link.md)` and ![i](img.png).\n[ref]: other.md\n";
    let found = anchors(doc);
    for anchor in ["title", "x-y", "31-routing-api", "title-1"] {
        assert!(found.contains(anchor), "{anchor} in {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
    let links: Vec<String> = markdown_links(doc).into_iter().map(|(_, t)| t).collect();
    assert_eq!(links, ["b.md#c", "img.png", "other.md"]);
    let cited = doc_citations(
        "// see `docs/compatibility.md#api-create`.\n// docs/x.md#<anchor> docs/y.md\n",
    );
    assert_eq!(cited, [(1, "docs/compatibility.md#api-create".to_owned())]);
    assert!(!starts_a_name("xname", 1));
    assert!(starts_a_name("(name", 1));
}
