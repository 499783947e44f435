//! getRecordings at a million recordings: load N recordings (10 metadata rows and one playback format each) into a
//! PostgreSQL database with COPY, serve the API on the production store, and report latency percentiles of a few
//! typical getRecordings calls, measured end to end over HTTP (query, XML, transfer).
//!
//! ```text
//! cargo run --release -p scalelite-e2e --example recordings_bench -- [--recordings N] [--requests R] [--reload]
//! ```
//!
//! PostgreSQL at `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432`) and Redis at `TEST_REDIS_URL`
//! must run. The data goes into the database `scalelite_bench`, which is kept between runs and reused when it
//! already holds N recordings (`--reload` loads it again). Not a test: the figures depend on the machine.

use std::error::Error;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use scalelite_api::{AppState, Settings};
use scalelite_core::domain::Secret;
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::store::Store;
use scalelite_e2e::harness::{LB_SECRET, postgres_url, redis_url, sha256_hex};
use sqlx::Connection;
use sqlx::types::chrono::DateTime;

type BoxResult<T> = Result<T, Box<dyn Error + Send + Sync>>;
/// Builds the query of the next request of a scenario from the random state.
type QueryFn = Box<dyn FnMut(&mut u64) -> String>;

const DATABASE: &str = "scalelite_bench";
/// Recordings per meeting.
const PER_MEETING: u64 = 10;
/// Distinct `bbb-context-name` values: about 10 recordings each.
const CONTEXTS_DIVISOR: u64 = 10;
/// First start time (2020-01-01) and the spacing of start times.
const BASE_MS: i64 = 1_577_836_800_000;
const STEP_MS: i64 = 60_000;
/// Rows per COPY chunk sent to the server.
const CHUNK_ROWS: u64 = 20_000;

struct Options {
    recordings: u64,
    requests: usize,
    reload: bool,
}

fn options() -> BoxResult<Options> {
    let mut options = Options {
        recordings: 1_000_000,
        requests: 200,
        reload: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--recordings" => options.recordings = args.next().ok_or("--recordings N")?.parse()?,
            "--requests" => options.requests = args.next().ok_or("--requests R")?.parse()?,
            "--reload" => options.reload = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(options)
}

#[allow(clippy::print_stdout)]
fn say(line: &str) {
    println!("{line}");
}

#[tokio::main]
async fn main() -> BoxResult<()> {
    let options = options()?;
    let database_url = format!("{}/{DATABASE}", postgres_url());
    let mut admin = sqlx::PgConnection::connect(&format!("{}/postgres", postgres_url())).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut admin)
            .await?;
    if exists && options.reload {
        sqlx::query(&format!("DROP DATABASE \"{DATABASE}\" WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
    }
    if !exists || options.reload {
        sqlx::query(&format!("CREATE DATABASE \"{DATABASE}\""))
            .execute(&mut admin)
            .await?;
    }

    // Connecting runs the migrations (tables and indexes).
    let namespace = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let store = ProductionStore::connect(ProductionConfig {
        database_url: database_url.clone(),
        redis_url: redis_url(),
        namespace,
        pool_size: 8,
        op_timeout: Duration::from_secs(60),
        redis_timeout: Duration::from_secs(60),
    })
    .await?;

    let mut db = sqlx::PgConnection::connect(&database_url).await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM recordings")
        .fetch_one(&mut db)
        .await?;
    if u64::try_from(count)? != options.recordings {
        load(&mut db, options.recordings).await?;
    } else {
        say(&format!("reusing {count} recordings in {DATABASE}"));
    }
    drop(db);

    let settings = Settings {
        lb_secrets: vec![Secret::new(LB_SECRET)],
        ..Settings::default()
    };
    let state = AppState::new(settings, Store::Production(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(scalelite_api::serve(
        listener,
        state,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(5),
    ));
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/bigbluebutton/api/getRecordings");

    let meetings = options.recordings.div_ceil(PER_MEETING).max(1);
    let contexts = (options.recordings / CONTEXTS_DIVISOR).max(1);
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let scenarios: [(&str, QueryFn); 6] = [
        (
            "one meeting (meetingID=m)",
            Box::new(move |s: &mut u64| format!("meetingID=meeting-{}", next(s) % meetings)),
        ),
        (
            "100 meetings (meetingID=m1,...,m100)",
            Box::new(move |s: &mut u64| {
                let ids: Vec<String> = (0..100)
                    .map(|_| format!("meeting-{}", next(s) % meetings))
                    .collect();
                format!("meetingID={}", ids.join(","))
            }),
        ),
        (
            "meta filter (meta_bbb-context-name=c)",
            Box::new(move |s: &mut u64| {
                format!("meta_bbb-context-name=course-{}", next(s) % contexts)
            }),
        ),
        (
            "recordID prefix (40 chars)",
            Box::new(move |s: &mut u64| {
                let meeting = next(s) % meetings;
                let id = sha256_hex(&format!("meeting-{meeting}"));
                format!("recordID={}", &id[..40])
            }),
        ),
        (
            "page (offset<1000, limit=50)",
            Box::new(|s: &mut u64| format!("offset={}&limit=50", next(s) % 1000)),
        ),
        (
            "deep page (offset<recordings/2, limit=50)",
            Box::new(move |s: &mut u64| {
                format!(
                    "offset={}&limit=50",
                    next(s) % (options.recordings / 2).max(1)
                )
            }),
        ),
    ];

    let mut report = String::new();
    writeln!(
        report,
        "getRecordings over HTTP, {} recordings, {} requests per scenario (ms)",
        options.recordings, options.requests
    )?;
    writeln!(
        report,
        "{:<44} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "scenario", "p50", "p90", "p99", "max", "mean", "recs/resp"
    )?;
    for (name, mut query) in scenarios {
        // Warm-up.
        for _ in 0..5 {
            call(&http, &base, &query(&mut seed)).await?;
        }
        let mut times = Vec::with_capacity(options.requests);
        let mut returned = 0usize;
        for _ in 0..options.requests {
            let query = query(&mut seed);
            let started = Instant::now();
            let body = call(&http, &base, &query).await?;
            times.push(started.elapsed());
            returned += body.matches("<recording>").count();
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let pick = |q: f64| ms(times[((times.len() - 1) as f64 * q).round() as usize]);
        let mean = times.iter().map(|d| ms(*d)).sum::<f64>() / times.len() as f64;
        writeln!(
            report,
            "{name:<44} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.1}",
            pick(0.50),
            pick(0.90),
            pick(0.99),
            pick(1.0),
            mean,
            returned as f64 / times.len() as f64
        )?;
    }
    say(&report);
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}

/// One signed getRecordings call; the body, after checking it is a SUCCESS.
async fn call(http: &reqwest::Client, base: &str, query: &str) -> BoxResult<String> {
    let checksum = sha256_hex(&format!("getRecordings{query}{LB_SECRET}"));
    let body = http
        .get(format!("{base}?{query}&checksum={checksum}"))
        .send()
        .await?
        .text()
        .await?;
    if !body.contains("<returncode>SUCCESS</returncode>") {
        return Err(format!("getRecordings?{query} failed: {body}").into());
    }
    Ok(body)
}

/// xorshift64: reproducible pseudo-random choices without another dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Load `n` recordings: 10 per meeting, start times a minute apart, 90% published, 5% unpublished, 5% processing;
/// 10 metadata rows each (`bbb-context-name` shared by about 10 recordings, `tenant-id` among 10 tenants); one
/// presentation format each.
async fn load(db: &mut sqlx::PgConnection, n: u64) -> BoxResult<()> {
    say(&format!("loading {n} recordings into {DATABASE} ..."));
    let started = Instant::now();
    sqlx::query("TRUNCATE recordings, metadata, playback_formats, thumbnails RESTART IDENTITY")
        .execute(&mut *db)
        .await?;
    let contexts = (n / CONTEXTS_DIVISOR).max(1);

    copy(
        db,
        "COPY recordings (id, record_id, meeting_id, name, published, participants, state, starttime, endtime, \
         protected, publish_updated) FROM STDIN",
        n,
        |i, out| {
            let meeting = i / PER_MEETING;
            let start = BASE_MS + i64::try_from(i).unwrap_or(i64::MAX) * STEP_MS;
            let (published, state) = match i % 20 {
                0 => ("f", "unpublished"),
                1 => ("f", "processing"),
                _ => ("t", "published"),
            };
            let _ = writeln!(
                out,
                "{}\t{}\tmeeting-{meeting}\tMeeting {meeting}\t{published}\t{}\t{state}\t{}\t{}\tf\tf",
                i + 1,
                record_id(meeting, start),
                i % 50,
                timestamp(start),
                timestamp(start + 45 * 60_000),
            );
        },
    )
    .await?;
    say(&format!("  recordings: {:.0?}", started.elapsed()));

    copy(
        db,
        "COPY metadata (recording_id, key, value) FROM STDIN",
        n,
        |i, out| {
            let id = i + 1;
            let meeting = i / PER_MEETING;
            let rows = [
                ("bbb-origin", "Greenlight".to_owned()),
                ("bbb-origin-version", "v3".to_owned()),
                ("bbb-origin-server-name", "lb.example.com".to_owned()),
                ("bbb-context-name", format!("course-{}", i % contexts)),
                ("bbb-context-id", format!("{}", i % contexts)),
                (
                    "gl-listed",
                    if i % 3 == 0 { "true" } else { "false" }.to_owned(),
                ),
                ("meetingName", format!("Meeting {meeting}")),
                ("isBreakout", "false".to_owned()),
                ("tenant-id", format!("tenant-{}", i % 10)),
                (
                    "bbb-recording-ready-url",
                    format!("https://lms.example.com/ready/{meeting}"),
                ),
            ];
            for (key, value) in rows {
                let _ = writeln!(out, "{id}\t{key}\t{value}");
            }
        },
    )
    .await?;
    say(&format!("  + metadata: {:.0?}", started.elapsed()));

    copy(
        db,
        "COPY playback_formats (recording_id, format, url, length, processing_time) FROM STDIN",
        n,
        |i, out| {
            let meeting = i / PER_MEETING;
            let start = BASE_MS + i64::try_from(i).unwrap_or(i64::MAX) * STEP_MS;
            let _ = writeln!(
                out,
                "{}\tpresentation\t/playback/presentation/2.3/{}\t45\t\\N",
                i + 1,
                record_id(meeting, start)
            );
        },
    )
    .await?;
    for table in ["recordings", "metadata", "playback_formats", "thumbnails"] {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
        ))
        .execute(&mut *db)
        .await?;
    }
    sqlx::query("ANALYZE").execute(&mut *db).await?;
    say(&format!("loaded in {:.0?}", started.elapsed()));
    Ok(())
}

/// Stream `rows` rows produced by `row` into one COPY statement, in chunks.
async fn copy(
    db: &mut sqlx::PgConnection,
    statement: &str,
    rows: u64,
    mut row: impl FnMut(u64, &mut String),
) -> BoxResult<()> {
    let mut copy = db.copy_in_raw(statement).await?;
    let mut buffer = String::with_capacity(4 << 20);
    for i in 0..rows {
        row(i, &mut buffer);
        if (i + 1) % CHUNK_ROWS == 0 {
            copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
            buffer.reserve(4 << 20);
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// The original's record id: `sha256(meeting id)-<start ms>`.
fn record_id(meeting: u64, start_ms: i64) -> String {
    format!("{}-{start_ms}", sha256_hex(&format!("meeting-{meeting}")))
}

/// `YYYY-MM-DD HH:MM:SS.mmm` (UTC), as PostgreSQL reads a `timestamp`.
fn timestamp(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default()
}
