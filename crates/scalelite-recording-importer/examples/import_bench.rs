//! Import benchmark: build N recording archives, time plain `tar -x` of them (what the original importer shells out
//! to, per archive), then time `import_backlog` on the same archives, and print both.
//!
//! ```text
//! cargo run --release -p scalelite-recording-importer --example import_bench -- --count 1000
//! # against PostgreSQL + Redis instead of an embedded SQLite file (use a scratch database):
//! cargo run --release -p scalelite-recording-importer --example import_bench -- --count 1000 \
//!     --database-url postgres://postgres@127.0.0.1:5432/bench --redis-url redis://127.0.0.1:6379
//! ```
//!
//! Each recording has a presentation format (metadata.xml with 5 preview images, 3 files) and a video format
//! (metadata.xml, 1 file). Everything lives in a temporary directory (`--dir` to choose where) that is removed at
//! the end.

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_recording_importer::fixture::{FixtureFormat, FixtureRecording};
use scalelite_recording_importer::{ImportContext, ImportSettings, import_backlog};

#[derive(Parser, Debug)]
struct Args {
    /// Recordings to import.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Where to put the temporary directory (default: the system's).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Use the production back-end with this PostgreSQL database (recordings are left in it).
    #[arg(long, requires = "redis_url")]
    database_url: Option<String>,
    /// Redis for the production back-end (keys under a random namespace, left behind).
    #[arg(long)]
    redis_url: Option<String>,
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

    // Baseline: `tar -x` of each archive into a fresh directory, one process per archive (as the original does).
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
    std::fs::remove_dir_all(&untar_root)?;

    // The importer, on copies of the same archives.
    let settings = ImportSettings::under(&root.join("importer"));
    std::fs::create_dir_all(&settings.spool_dir)?;
    for archive in &archives {
        let name = archive.file_name().context("archive name")?;
        std::fs::copy(archive, settings.spool_dir.join(name))?;
    }
    let store = open_store(&args, root).await?;
    let backend = store.kind();
    let ctx = ImportContext::new(store, settings);
    let started = Instant::now();
    let report = import_backlog(&ctx, |_, _| {}).await?;
    let import = started.elapsed();
    anyhow::ensure!(
        report.imported == args.count,
        "only {} of {} imported: {report:?}",
        report.imported,
        args.count
    );

    println!("store: {backend}");
    println!(
        "importer:  {} recordings in {:.2?} = {:.0} recordings/s",
        args.count,
        import,
        per_second(args.count, import)
    );
    println!(
        "tar -x:    {} archives   in {:.2?} = {:.0} archives/s (extraction only, no store, no placement)",
        args.count,
        untar,
        per_second(args.count, untar)
    );
    Ok(())
}

fn archives_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    archives.sort();
    Ok(archives)
}

async fn open_store(args: &Args, root: &Path) -> anyhow::Result<Store> {
    Ok(match (&args.database_url, &args.redis_url) {
        (Some(database_url), Some(redis_url)) => Store::Production(
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
        _ => Store::Embedded(SqliteStore::open(&root.join("scalelite.sqlite3")).await?),
    })
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::EPSILON)
}
