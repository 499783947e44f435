//! The driver: runs one target over its corpus, its saved regressions and a bounded number of generated cases.
//!
//! Case `n` of seed `s` is built from `s`, `n` and the target's name alone (a corpus input picked at random, then
//! a stack of mutations), so a failing case replays without running the ones before it. Before each case the driver
//! writes `FUZZ_SEED=s FUZZ_CASE=n` to `<failure dir>/<target>.running`; a case that aborts the process (an
//! allocation over the bound, a stack overflow) leaves that file behind. A case that panics has its input written
//! to `<failure dir>/<target>-<seed>-<case>.bin`, and the driver panics with the replay command.

use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::Rng;
use crate::mutate::Mutator;

/// A fuzz target and how its inputs are mutated.
#[derive(Clone, Copy)]
pub struct Target {
    /// The target's name: its corpus and regressions directory, and the test's name.
    pub name: &'static str,
    /// Feeds one input to the parser; panics on a finding.
    pub run: fn(&[u8]),
    /// Tokens worth inserting.
    pub tokens: &'static [&'static [u8]],
    /// Openers to repeat for deep nesting.
    pub nesting: &'static [&'static [u8]],
    /// A structure-aware edit.
    pub structured: Option<fn(&mut Vec<u8>, &mut Rng)>,
    /// A fix-up after the edits.
    pub fix_up: Option<fn(&mut [u8])>,
    /// Generated cases when `FUZZ_CASES` is not set: a few seconds in a debug build.
    pub default_cases: u64,
    /// Generated inputs are cut to this many bytes.
    pub max_len: usize,
}

/// What to run, from the `FUZZ_*` variables of the test binary.
#[derive(Clone, Debug)]
pub struct Config {
    /// `FUZZ_SEED`: the run's seed.
    pub seed: u64,
    /// `FUZZ_CASES`: generated cases per target (the target's default when `None`).
    pub cases: Option<u64>,
    /// `FUZZ_CASE`: run only this generated case.
    pub only_case: Option<u64>,
    /// `FUZZ_REPLAY`: run only this saved input.
    pub replay: Option<PathBuf>,
    /// Where failing inputs and the running-case marker are written.
    pub failure_dir: PathBuf,
}

/// The hook around each case: the test binary caps allocations between `begin` and `end`.
pub trait AllocationGuard {
    /// A case starts; it may allocate at most `bound` bytes more than are allocated now.
    fn begin(&self, bound: usize);
    /// The case is over.
    fn end(&self);
}

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Corpus and regression inputs run as they are.
    pub seeds: usize,
    /// Generated cases run.
    pub cases: u64,
}

/// The seed of a run without `FUZZ_SEED`, so CI runs the same cases every time.
pub const DEFAULT_SEED: u64 = 0x5CA1_E11E_F022_2026;

/// The most one input may allocate at once: 64 bytes per input byte plus 4 MiB.
pub fn allocation_bound(input_len: usize) -> usize {
    input_len.saturating_mul(64).saturating_add(4 << 20)
}

/// Run `target`: the inputs under `corpus/<name>/` and `regressions/<name>/`, then the generated cases (or only
/// what `config.replay` / `config.only_case` name).
///
/// # Panics
/// On the first input the target panics on, naming the saved input and the command that replays it; when the
/// corpus is empty or unreadable.
pub fn run(
    target: &Target,
    corpus_root: &Path,
    regressions_root: &Path,
    config: &Config,
    guard: &dyn AllocationGuard,
) -> Report {
    let corpus_files = read_inputs(&corpus_root.join(target.name));
    let corpus: Vec<Vec<u8>> = corpus_files
        .iter()
        .map(|(_, bytes)| bytes.clone())
        .collect();
    assert!(
        !corpus.is_empty(),
        "fuzz target {}: no corpus under {}",
        target.name,
        corpus_root.display()
    );
    fs::create_dir_all(&config.failure_dir).unwrap_or_else(|e| {
        panic!("cannot create {}: {e}", config.failure_dir.display());
    });
    let marker = Marker::create(&config.failure_dir, target.name);
    let mut report = Report::default();

    if let Some(path) = &config.replay {
        let input =
            fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let label = format!("replay of {}", path.display());
        marker.set(&label);
        execute(target, config, guard, &input, &label, "replay");
        report.seeds += 1;
        marker.remove();
        return report;
    }
    let mutator = Mutator {
        tokens: target.tokens,
        nesting: target.nesting,
        corpus: &corpus,
        max_len: target.max_len,
        structured: target.structured,
        fix_up: target.fix_up,
    };
    if let Some(case) = config.only_case {
        run_case(target, &mutator, config, guard, &marker, case);
        report.cases += 1;
        marker.remove();
        return report;
    }

    let regressions = read_inputs(&regressions_root.join(target.name));
    for (index, (path, input)) in corpus_files.iter().chain(&regressions).enumerate() {
        let label = format!("seed input {}", path.display());
        marker.set(&label);
        execute(
            target,
            config,
            guard,
            input,
            &label,
            &format!("input{index}"),
        );
        report.seeds += 1;
    }
    for case in 0..config.cases.unwrap_or(target.default_cases) {
        run_case(target, &mutator, config, guard, &marker, case);
        report.cases += 1;
    }
    marker.remove();
    report
}

/// The input of generated case `case` of `seed`.
fn case_input(target: &Target, mutator: &Mutator<'_>, seed: u64, case: u64) -> Vec<u8> {
    let name_hash = target.name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = Rng::new(seed ^ name_hash ^ case.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut input = rng.pick(mutator.corpus).clone();
    mutator.mutate(&mut input, &mut rng);
    input
}

fn run_case(
    target: &Target,
    mutator: &Mutator<'_>,
    config: &Config,
    guard: &dyn AllocationGuard,
    marker: &Marker,
    case: u64,
) {
    let input = case_input(target, mutator, config.seed, case);
    let label = format!("case FUZZ_SEED={} FUZZ_CASE={case}", config.seed);
    marker.set(&label);
    let stem = format!("{}-{case}", config.seed);
    execute(target, config, guard, &input, &label, &stem);
}

/// Run one input with the allocation cap on; on a panic, save the input and panic with the replay command.
fn execute(
    target: &Target,
    config: &Config,
    guard: &dyn AllocationGuard,
    input: &[u8],
    label: &str,
    stem: &str,
) {
    guard.begin(allocation_bound(input.len()));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    guard.end();
    let Err(payload) = outcome else {
        return;
    };
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let saved = config
        .failure_dir
        .join(format!("{}-{stem}.bin", target.name));
    let written = fs::write(&saved, input);
    panic!(
        "fuzz target {name} failed on {label} ({len} bytes): {message}\n\
         input saved to {saved} ({written:?}); replay with:\n\
         FUZZ_REPLAY={saved} cargo test -p scalelite-fuzz --test fuzz -- {name}",
        name = target.name,
        len = input.len(),
        saved = saved.display(),
    );
}

/// The files of `dir` and their contents, in name order (none when it does not exist).
fn read_inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// `<failure dir>/<target>.running`: the case in progress, rewritten before each case so that a case that aborts
/// the process can be found and replayed.
struct Marker {
    path: PathBuf,
    file: File,
}

impl Marker {
    fn create(dir: &Path, name: &str) -> Marker {
        let path = dir.join(format!("{name}.running"));
        let file =
            File::create(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Marker { path, file }
    }

    fn set(&self, label: &str) {
        let line = format!("{label}\n");
        let _ = self.file.set_len(0);
        let _ = self.file.write_all_at(line.as_bytes(), 0);
    }

    fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}
