//! Import benchmark: build N recording archives, then for each back-end time plain `tar -x` of them (what the
//! original importer shells out to, per archive) right before `import_backlog` of the same archives, and print
//! both and their ratio (the importer's speed as a fraction of `tar -x`'s; the goal is at least 0.8).
//!
//! ```text
//! cargo run --release -p scalelite-recording-importer --example import_bench -- --count 1000
//! # one back-end only; the production back-end on a given (scratch) database instead of a fresh one:
//! cargo run --release -p scalelite-recording-importer --example import_bench -- --count 1000 \
//!     --backend production --database-url postgres://postgres@127.0.0.1:5432/bench --redis-url redis://127.0.0.1:6379
//! ```
//!
//! Both back-ends by default: the embedded one in a SQLite file, the production one in a fresh PostgreSQL database
//! and Redis namespace (`scalelite-testkit`, removed at the end) unless `--database-url` and `--redis-url` are
//! given (recordings are then left in that database). Each recording has a presentation format (metadata.xml with
//! 5 preview images, 3 files) and a video format (metadata.xml, 1 file). Everything lives in a temporary directory
//! (`--dir` to choose where) that is removed at the end.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_recording_importer::fixture::{FixtureFormat, FixtureRecording};
use scalelite_recording_importer::{ImportContext, ImportSettings, import_backlog};
use scalelite_testkit::{Backend as TestBackend, TestStore, test_store};

#[derive(Parser, Debug)]
struct Args {
    /// Recordings to import.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Where to put the temporary directory (default: the system's).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Which back-ends to measure.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// Use this PostgreSQL database for the production back-end (recordings are left in it) instead of a fresh one.
    #[arg(long, requires = "redis_url")]
    database_url: Option<String>,
    /// Redis for `--database-url` (keys under a random namespace, left behind).
    #[arg(long, requires = "database_url")]
    redis_url: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Both,
    Embedded,
    Production,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir)?,
        None => tempfile::tempdir()?,
    };
    let root = dir.path();
    let source = root.join("archives");
    std::fs::create_dir_all(&source)?;

    let started = Instant::now();
    let mut bytes = 0u64;
    for n in 0..args.count {
        let mut recording =
            FixtureRecording::new(&format!("bench-meeting-{n}"), 1_700_000_000_000 + n as i64);
        let rid = recording.record_id.clone();
        recording.formats.push(
            FixtureFormat::new("presentation", "bbb.example.com", &rid).with_images(
                "bbb.example.com",
                &rid,
                5,
            ),
        );
        recording
            .formats
            .push(FixtureFormat::new("video", "bbb.example.com", &rid));
        let path = recording.write_tar(&source)?;
        bytes += std::fs::metadata(&path)?.len();
    }
    println!(
        "built {} archives ({:.1} MiB) in {:.2?}",
        args.count,
        bytes as f64 / 1_048_576.0,
        started.elapsed()
    );
    let archives = archives_in(&source)?;

    let embedded: &[bool] = match args.backend {
        BackendChoice::Both => &[true, false],
        BackendChoice::Embedded => &[true],
        BackendChoice::Production => &[false],
    };
    let mut ratios = Vec::new();
    for (run, &embedded) in embedded.iter().enumerate() {
        // Each run's trees stay until the end (with the temporary directory): removing them would slow the next
        // run's file creations (see `bench_backend`).
        let run_root = root.join(format!("run-{run}"));
        let (untar, import, backend) = bench_backend(&args, embedded, &archives, &run_root).await?;
        let ratio = untar.as_secs_f64() / import.as_secs_f64().max(f64::EPSILON);
        println!("store: {backend}");
        println!(
            "  importer:  {} recordings in {:.2?} = {:.0} recordings/s",
            args.count,
            import,
            per_second(args.count, import)
        );
        println!(
            "  tar -x:    {} archives   in {:.2?} = {:.0} archives/s (extraction only, no store, no placement)",
            args.count,
            untar,
            per_second(args.count, untar)
        );
        println!("  ratio:     {ratio:.2}x the speed of tar -x (goal: at least 0.80x)");
        ratios.push((backend, ratio));
    }
    let summary: Vec<String> = ratios
        .iter()
        .map(|(backend, ratio)| format!("{backend} {ratio:.2}x"))
        .collect();
    println!("importer / tar -x: {}", summary.join(", "));
    Ok(())
}

/// `tar -x` of every archive, then the importer on copies of them, on one back-end: the two times and the
/// back-end's name.
async fn bench_backend(
    args: &Args,
    embedded: bool,
    archives: &[PathBuf],
    root: &Path,
) -> anyhow::Result<(Duration, Duration, &'static str)> {
    let (store, _test_store) = open_store(args, embedded, root).await?;
    let backend = store.kind();
    let settings = ImportSettings::under(&root.join("importer"));
    std::fs::create_dir_all(&settings.spool_dir)?;
    for archive in archives {
        let name = archive.file_name().context("archive name")?;
        std::fs::copy(archive, settings.spool_dir.join(name))?;
    }

    // Baseline, right before the import so that both see the same machine: `tar -x` of each archive into a fresh
    // directory, one process per archive (as the original does).
    let untar_root = root.join("untar");
    let started = Instant::now();
    for (n, archive) in archives.iter().enumerate() {
        let target = untar_root.join(n.to_string());
        std::fs::create_dir_all(&target)?;
        let status = tokio::process::Command::new("tar")
            .arg("-x")
            .arg("-f")
            .arg(archive)
            .arg("-C")
            .arg(&target)
            .status()
            .await
            .context("could not run tar")?;
        anyhow::ensure!(status.success(), "tar -x failed on {}", archive.display());
    }
    let untar = started.elapsed();

    let ctx = ImportContext::new(store, settings);
    let started = Instant::now();
    let report = import_backlog(&ctx, |_, _| {}).await?;
    let import = started.elapsed();
    // Only now: removing the unpacked trees frees thousands of inodes, and ext4 skips recently freed ones when it
    // allocates (`recently_deleted`), which made every mkdir and file creation of an import run just after it slow.
    std::fs::remove_dir_all(&untar_root)?;
    anyhow::ensure!(
        report.imported == archives.len(),
        "only {} of {} imported: {report:?}",
        report.imported,
        archives.len()
    );
    Ok((untar, import, backend))
}

fn archives_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    archives.sort();
    Ok(archives)
}

/// The store of one run, and the fresh test store behind it (removed when dropped), if any.
async fn open_store(
    args: &Args,
    embedded: bool,
    root: &Path,
) -> anyhow::Result<(Store, Option<TestStore>)> {
    if embedded {
        std::fs::create_dir_all(root)?;
        let store = SqliteStore::open(&root.join("scalelite.sqlite3")).await?;
        return Ok((Store::Embedded(store), None));
    }
    Ok(match (&args.database_url, &args.redis_url) {
        (Some(database_url), Some(redis_url)) => (
            Store::Production(
                ProductionStore::connect(ProductionConfig {
                    database_url: database_url.clone(),
                    redis_url: redis_url.clone(),
                    namespace: format!("bench-{}", uuid::Uuid::new_v4().simple()),
                    pool_size: 4,
                    op_timeout: Duration::from_secs(5),
                    redis_timeout: Duration::from_secs(5),
                })
                .await?,
            ),
            None,
        ),
        _ => {
            let test = test_store(TestBackend::Production).await;
            (test.store.clone(), Some(test))
        }
    })
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}
