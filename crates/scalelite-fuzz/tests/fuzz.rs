//! The fuzz run: every target over its corpus, its saved regressions and a bounded number of generated cases, with
//! a capping global allocator so that no input may make a parser allocate more than
//! `driver::allocation_bound(input length)` at once.
//!
//! Variables: `FUZZ_SEED` (whole number; a fixed default so CI is reproducible), `FUZZ_CASES` (generated cases per
//! target), `FUZZ_CASE` (run only that case), `FUZZ_REPLAY` (run only that saved input), `FUZZ_FAILURE_DIR`
//! (default `fuzz-failures` under Cargo's per-test scratch directory). The targets run one at a time: the cap is
//! process-wide, and another target's allocations would count against it.

use std::alloc::System;
use std::panic;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

use cap::Cap;
use scalelite_fuzz::driver::{self, AllocationGuard, Config, Report, Target};
use scalelite_fuzz::targets::TARGETS;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Caps the allocator at what is allocated now plus the case's bound; an allocation past it fails, which aborts
/// the process ("memory allocation of N bytes failed") and leaves `<target>.running` naming the case.
struct CapGuard;

impl AllocationGuard for CapGuard {
    fn begin(&self, bound: usize) {
        let _ = ALLOCATOR.set_limit(ALLOCATOR.allocated().saturating_add(bound));
    }

    fn end(&self) {
        let _ = ALLOCATOR.set_limit(usize::MAX);
    }
}

#[test]
fn params() {
    fuzz("params");
}

#[test]
fn checksum() {
    fuzz("checksum");
}

#[test]
fn bbb_xml() {
    fuzz("bbb_xml");
}

#[test]
fn metadata() {
    fuzz("metadata");
}

#[test]
fn tar() {
    fuzz("tar");
}

#[test]
fn admin_json() {
    fuzz("admin_json");
}

#[test]
fn jwt() {
    fuzz("jwt");
}

#[test]
fn every_target_runs_in_a_test_and_has_a_corpus() {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "params",
            "checksum",
            "bbb_xml",
            "metadata",
            "tar",
            "admin_json",
            "jwt"
        ]
    );
    for target in TARGETS {
        let dir = crate_dir().join("corpus").join(target.name);
        let inputs = std::fs::read_dir(&dir).map_or(0, Iterator::count);
        assert!(inputs > 0, "no corpus in {}", dir.display());
    }
}

#[test]
fn the_cap_refuses_an_allocation_over_the_bound_while_a_case_runs() {
    let _lock = lock();
    CapGuard.begin(1 << 20);
    let over = Vec::<u8>::new().try_reserve_exact(8 << 20).is_err();
    let under = Vec::<u8>::new().try_reserve_exact(512 << 10).is_ok();
    CapGuard.end();
    assert!(over, "an 8 MiB allocation got past a 1 MiB cap");
    assert!(under, "a 512 KiB allocation was refused under a 1 MiB cap");
    assert!(Vec::<u8>::new().try_reserve_exact(8 << 20).is_ok());
}

#[test]
fn a_failing_case_is_saved_and_named_with_the_command_that_replays_it() {
    let _lock = lock();
    let scratch = tempfile::tempdir().expect("scratch directory");
    let corpus = scratch.path().join("corpus/picky");
    std::fs::create_dir_all(&corpus).expect("corpus directory");
    std::fs::write(corpus.join("one"), b"ok").expect("corpus input");
    let target = Target {
        name: "picky",
        run: |data| assert!(!data.contains(&b'!'), "found a !"),
        tokens: &[b"!"],
        nesting: &[],
        structured: None,
        fix_up: None,
        default_cases: 10_000,
        max_len: 64,
    };
    let config = Config {
        seed: 7,
        cases: None,
        only_case: None,
        replay: None,
        failure_dir: scratch.path().join("failures"),
    };
    let run = |config: &Config| {
        panic::catch_unwind(|| {
            driver::run(
                &target,
                &scratch.path().join("corpus"),
                &scratch.path().join("regressions"),
                config,
                &CapGuard,
            )
        })
    };
    let message = match run(&config) {
        Ok(report) => panic!("no case with a ! in {report:?}"),
        Err(payload) => payload.downcast::<String>().map(|m| *m).unwrap_or_default(),
    };
    assert!(message.contains("found a !"), "{message}");
    let saved = message
        .split_once("FUZZ_REPLAY=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no replay command in {message}"));
    let input = std::fs::read(&saved).expect("the failing input was saved");
    assert!(input.contains(&b'!'));
    let case: u64 = message
        .split_once("FUZZ_CASE=")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no case number in {message}"));

    // The saved input and the case number each reproduce the failure alone.
    let replay = Config {
        replay: Some(saved),
        ..config.clone()
    };
    assert!(run(&replay).is_err());
    let only = Config {
        only_case: Some(case),
        ..config.clone()
    };
    assert!(run(&only).is_err());
    // The cases before it pass.
    let before = Config {
        cases: Some(case),
        ..config
    };
    assert_eq!(
        run(&before).ok(),
        Some(Report {
            seeds: 1,
            cases: case
        })
    );
}

fn fuzz(name: &str) {
    let _lock = lock();
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no target {name}"));
    let report = driver::run(
        target,
        &crate_dir().join("corpus"),
        &crate_dir().join("regressions"),
        &config(),
        &CapGuard,
    );
    assert!(report.seeds > 0);
}

/// Takes the one-target-at-a-time lock. The first call also makes the panic hook lift the cap before it runs: a
/// panic inside a case is a finding to report, and the hook's message and backtrace must not count against the case.
fn lock() -> MutexGuard<'static, ()> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let report = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let _ = ALLOCATOR.set_limit(usize::MAX);
            report(info);
        }));
    });
    ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner)
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> Config {
    let number = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{name} must be a whole number, not {value:?}"))
        })
    };
    Config {
        seed: number("FUZZ_SEED").unwrap_or(driver::DEFAULT_SEED),
        cases: number("FUZZ_CASES"),
        only_case: number("FUZZ_CASE"),
        replay: std::env::var_os("FUZZ_REPLAY").map(PathBuf::from),
        failure_dir: std::env::var_os("FUZZ_FAILURE_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures"),
            PathBuf::from,
        ),
    }
}
