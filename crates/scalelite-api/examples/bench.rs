//! Throughput and latency of the balancer against fake BBB servers, and of the same calls made directly to the
//! fake servers in the same run (the ratio is what the balancer costs).
//!
//! ```text
//! cargo run --release -p scalelite-api --example bench -- [--requests 2000] [--concurrency 16] [--servers 3]
//!     [--database-url postgres://127.0.0.1/bench --redis-url redis://127.0.0.1:6379]
//! ```
//!
//! Everything runs in this process on 127.0.0.1: the API (`scalelite_api::serve`), the fake servers and the
//! client. Without `--database-url`/`--redis-url` the store is a fresh SQLite file; with both, the production
//! store (the database must exist; keys go to a fresh Redis namespace, and what the run stored is removed at the
//! end). Each call runs `--requests` requests with `--concurrency` in flight: isMeetingRunning, getMeetingInfo
//! (one meeting), create (a new meeting each time) and join (a redirect; the balancer does not contact BBB, the
//! fake server adds an attendee).

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line report.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use fake_bbb::FakeServer;
use scalelite_api::{AppState, Settings};
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState};
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, ServerStore};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

const LB_SECRET: &str = "bench-lb-secret";

#[derive(Parser, Debug)]
#[command(about = "Benchmark scalelite-api against fake BBB servers")]
struct Args {
    /// Requests per call and target.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Fake BBB servers.
    #[arg(long, default_value_t = 3)]
    servers: usize,
    /// PostgreSQL URL of an existing database (with --redis-url: production store).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL (with --database-url: production store).
    #[arg(long)]
    redis_url: Option<String>,
}

/// What one run of one call measured.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

fn sha256_hex(input: &str) -> String {
    Sha256::digest(input.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<base>/<call>?<query>&checksum=<sha256>`; `base` ends with `/`.
fn signed(base: &str, call: &str, query: &str, secret: &str) -> String {
    let checksum = sha256_hex(&format!("{call}{query}{secret}"));
    format!("{base}{call}?{query}&checksum={checksum}")
}

/// Run `count` requests, `concurrency` at a time; `url(i)` is the i-th request, `ok` judges the answer.
async fn run(
    http: &reqwest::Client,
    count: usize,
    concurrency: usize,
    url: impl Fn(usize) -> String + Send + Sync + 'static,
    expect_redirect: bool,
) -> Run {
    let url = Arc::new(url);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let http = http.clone();
        let url = url.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let target = url(i);
                let sent = Instant::now();
                let ok = match http.get(&target).send().await {
                    Ok(response) if expect_redirect => response.status().as_u16() == 302,
                    Ok(response) => {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        status.is_success() && body.contains("<returncode>SUCCESS</returncode>")
                    }
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(count);
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        if let Ok((l, e)) = joined {
            latencies.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Run {
        latencies,
        elapsed,
        errors,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn report(call: &str, balancer: &Run, direct: &Run) {
    for (target, r) in [("balancer", balancer), ("direct", direct)] {
        println!(
            "{call:<17} {target:<9} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>6}",
            r.throughput(),
            ms(r.percentile(0.50)),
            ms(r.percentile(0.90)),
            ms(r.percentile(0.99)),
            ms(r.latencies.last().copied().unwrap_or_default()),
            r.errors
        );
    }
    println!(
        "{call:<17} ratio     throughput balancer/direct {:.2}, p50 balancer/direct {:.2}",
        balancer.throughput() / direct.throughput(),
        balancer.percentile(0.5).as_secs_f64() / direct.percentile(0.5).as_secs_f64().max(1e-9)
    );
}

async fn open_store(args: &Args) -> anyhow::Result<(Store, Option<tempfile::TempDir>, String)> {
    match (&args.database_url, &args.redis_url) {
        (Some(database_url), Some(redis_url)) => {
            let namespace = format!("bench_{}", std::process::id());
            let store = ProductionStore::connect(ProductionConfig {
                database_url: database_url.clone(),
                redis_url: redis_url.clone(),
                namespace: namespace.clone(),
                pool_size: 8,
                op_timeout: Duration::from_secs(5),
                redis_timeout: Duration::from_secs(5),
            })
            .await
            .context("could not open the production store")?;
            Ok((
                Store::Production(store),
                None,
                format!("production (Redis namespace {namespace})"),
            ))
        }
        (None, None) => {
            let dir = tempfile::tempdir()?;
            let store = SqliteStore::open(&dir.path().join("bench.sqlite3"))
                .await
                .context("could not open the SQLite store")?;
            Ok((
                Store::Embedded(store),
                Some(dir),
                "embedded (SQLite)".into(),
            ))
        }
        _ => anyhow::bail!("give both --database-url and --redis-url, or neither"),
    }
}

/// Forget what the run stored (the production store outlives the process).
async fn clean_up(store: &Store) {
    if let Ok(meetings) = store.list_meetings().await {
        for meeting in meetings {
            let _ = store.delete_meeting(&meeting.id).await;
        }
    }
    if let Ok(servers) = store.list_servers().await {
        for server in servers {
            let _ = store.delete_server(&server.id).await;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (store, _dir, store_kind) = open_store(&args).await?;

    let mut fakes = Vec::new();
    for i in 0..args.servers.max(1) {
        let id = format!("bench-{i}");
        let secret = format!("{id}-secret");
        let fake = FakeServer::start(secret.clone()).await?;
        store
            .add_server(NewServer {
                id: id.clone(),
                url: fake.url(),
                secret: Secret::new(secret),
                tag: None,
                state: ServerState::Enabled,
                load_multiplier: 1.0,
            })
            .await?;
        store
            .patch_server(
                &id,
                ServerPatch {
                    online: Some(true),
                    load: Some(Some(0.0)),
                    ..ServerPatch::default()
                },
            )
            .await?;
        fakes.push(fake);
    }

    let settings = Settings {
        lb_secrets: vec![Secret::new(LB_SECRET)],
        meeting_ttl: Duration::from_secs(3600),
        ..Settings::default()
    };
    let state = AppState::new(settings, store.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let signal = stop.clone();
    let server = tokio::spawn(scalelite_api::serve(
        listener,
        state,
        async move { signal.cancelled().await },
        Duration::from_secs(5),
    ));
    let lb = format!("http://{addr}/bigbluebutton/api/");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(args.concurrency)
        .build()?;

    // The meeting the per-meeting calls use, placed by the balancer, and the server it landed on.
    let created = http
        .get(signed(
            &lb,
            "create",
            "meetingID=bench-meeting&moderatorPW=mp",
            LB_SECRET,
        ))
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(created.contains("SUCCESS"), "create failed: {created}");
    let holder = fakes
        .iter()
        .find(|f| f.meeting("bench-meeting").is_some())
        .context("no fake server holds the meeting")?
        .clone();
    let direct = holder.url();
    let direct_secret = holder.secret().to_owned();

    // Warm up both paths.
    let warm = signed(
        &lb,
        "isMeetingRunning",
        "meetingID=bench-meeting",
        LB_SECRET,
    );
    run(&http, 200, args.concurrency, move |_| warm.clone(), false).await;
    let warm = signed(
        &direct,
        "isMeetingRunning",
        "meetingID=bench-meeting",
        &direct_secret,
    );
    run(&http, 200, args.concurrency, move |_| warm.clone(), false).await;

    println!(
        "scalelite-api benchmark: {} requests per call and target, {} in flight, {} fake servers, store {store_kind}",
        args.requests, args.concurrency, args.servers
    );
    println!(
        "{:<17} {:<9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "call", "target", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    let (n, c) = (args.requests, args.concurrency);
    for call in ["isMeetingRunning", "getMeetingInfo"] {
        let url = signed(&lb, call, "meetingID=bench-meeting", LB_SECRET);
        let balancer = run(&http, n, c, move |_| url.clone(), false).await;
        let url = signed(&direct, call, "meetingID=bench-meeting", &direct_secret);
        let direct = run(&http, n, c, move |_| url.clone(), false).await;
        report(call, &balancer, &direct);
    }
    {
        let lb = lb.clone();
        let balancer = run(
            &http,
            n,
            c,
            move |i| signed(&lb, "create", &format!("meetingID=bench-c-{i}"), LB_SECRET),
            false,
        )
        .await;
        let (direct, secret) = (direct.clone(), direct_secret.clone());
        let direct = run(
            &http,
            n,
            c,
            move |i| {
                signed(
                    &direct,
                    "create",
                    &format!("meetingID=direct-c-{i}"),
                    &secret,
                )
            },
            false,
        )
        .await;
        report("create", &balancer, &direct);
    }
    {
        let lb = lb.clone();
        let balancer = run(
            &http,
            n,
            c,
            move |i| {
                signed(
                    &lb,
                    "join",
                    &format!("meetingID=bench-meeting&fullName=u{i}&password=mp"),
                    LB_SECRET,
                )
            },
            true,
        )
        .await;
        let (direct, secret) = (direct.clone(), direct_secret.clone());
        let direct = run(
            &http,
            n,
            c,
            move |i| {
                signed(
                    &direct,
                    "join",
                    &format!("meetingID=bench-meeting&fullName=u{i}&password=mp"),
                    &secret,
                )
            },
            true,
        )
        .await;
        report("join", &balancer, &direct);
    }

    stop.cancel();
    let _ = server.await;
    clean_up(&store).await;
    Ok(())
}
