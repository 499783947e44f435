//! Throughput and p99 latency of every API call the performance goals name, each printed beside the baseline it is
//! judged against, measured in the same run, for both store back-ends.
//!
//! ```text
//! cargo run --release -p scalelite-api --example bench -- [--requests 10000] [--concurrency 32] [--servers 3]
//!     [--backend both|embedded|production] [--database-url postgres://... --redis-url redis://...]
//! ```
//!
//! Everything runs in this process on 127.0.0.1: the API (`scalelite_api::serve`), the fake BBB servers
//! (`fake-bbb`, which check checksums and keep meetings) and the client (`--concurrency` keep-alive HTTP/1.1
//! connections, one request in flight on each). The embedded store is a fresh SQLite file; the production store a fresh PostgreSQL
//! database and Redis namespace (`scalelite-testkit`, removed at the end), or the database given with
//! `--database-url`/`--redis-url`.
//!
//! Baselines and goals (`ratio` = the call's requests per second / the baseline's):
//! - `index` (`GET /bigbluebutton/api` of the balancer): join >= 0.25, isMeetingRunning of an unknown meeting
//!   >= 0.4 (both answered by the balancer alone).
//! - `direct` (the same call made directly to the fake BBB server holding the meeting): every proxied call
//!   (isMeetingRunning, getMeetingInfo, create of an existing meeting, create of a new meeting) >= 0.16.
//! - Every call: p99 <= 5 ms.
//!
//! The client, the API and the fake servers share the machine's cores, so the ratio is the figure to compare
//! between machines, not the requests per second. Each call and its baseline are measured `--rounds` times,
//! alternately; the ratio is the median of the rounds' ratios (each round's baseline and call run back to back, so
//! that drift on a shared machine moves both alike), and the throughputs and latencies shown are each one's run of
//! median throughput. `steal` is the share of CPU time the hypervisor gave to other guests meanwhile: where it is
//! high, the machine's speed changed under the run and the figures are loose. `cpu µs` is the CPU time per request
//! of this process and of the local Redis and PostgreSQL, the figure to compare two builds by.

#![allow(clippy::print_stdout, clippy::print_stderr)] // A command-line report.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use fake_bbb::FakeServer;
use scalelite_api::{AppState, Settings};
use scalelite_core::domain::{NewServer, Secret, ServerPatch, ServerState};
use scalelite_core::storage::production::{ProductionConfig, ProductionStore};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, ServerStore};
use scalelite_testkit::{Backend as TestBackend, TestStore, test_store};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// The allocator of the `scalelite-api` binary, so the in-process API costs what the binary costs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LB_SECRET: &str = "bench-lb-secret";
/// Goal: p99 at or under this, on every call.
const P99_GOAL: Duration = Duration::from_millis(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Both,
    Embedded,
    Production,
}

#[derive(Parser, Debug)]
#[command(about = "Benchmark scalelite-api against fake BBB servers, both store back-ends")]
struct Args {
    /// Requests per call and target.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Fake BBB servers.
    #[arg(long, default_value_t = 3)]
    servers: usize,
    /// Runs of each call and of its baseline, alternated; the median of the rounds' ratios is reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Store back-ends to measure, one after the other.
    #[arg(long, value_enum, default_value_t = BackendChoice::Both)]
    backend: BackendChoice,
    /// PostgreSQL URL of an existing database for the production store (with --redis-url); default: a fresh
    /// database on TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432).
    #[arg(long)]
    database_url: Option<String>,
    /// Redis URL for the production store (with --database-url).
    #[arg(long)]
    redis_url: Option<String>,
    /// Measure only the calls whose name contains one of these (e.g. `--only create` for a profile), with their
    /// baselines; default: every call.
    #[arg(long)]
    only: Vec<String>,
}

impl Args {
    fn wanted(&self, call: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| call.contains(o.as_str()))
    }
}

/// What one run of one call measured.
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    /// CPU time used meanwhile ([`cpu_ticks`]), when known.
    cpu_ticks: Option<u64>,
}

impl Run {
    /// CPU time per request in µs, across this process and the local Redis and PostgreSQL ([`cpu_ticks`]): unlike
    /// the throughput, it hardly moves when the hypervisor takes the machine's cores away for a while.
    fn cpu_per_request(&self) -> Option<f64> {
        let requests = self.latencies.len().max(1) as f64;
        self.cpu_ticks
            .map(|ticks| ticks as f64 * 1_000_000.0 / TICKS_PER_SECOND / requests)
    }

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

/// What a successful answer looks like.
#[derive(Clone, Copy)]
enum Expect {
    /// 200 with `<returncode>SUCCESS</returncode>`.
    Success,
    /// A 302 redirect.
    Redirect,
}

/// A request's URL from its number.
type UrlFor = Arc<dyn Fn(usize) -> String + Send + Sync>;

/// A call measured against its baseline (`paired`).
struct Paired {
    /// The baseline's run of median throughput.
    baseline: Run,
    /// The call's run of median throughput.
    call: Run,
    /// The median, over the rounds, of the call's throughput over the baseline's in the same round.
    ratio: f64,
    /// The share of the machine's CPU time the hypervisor gave to other guests during the rounds (`steal` in
    /// /proc/stat), when known: the larger, the less the throughputs say.
    steal: Option<f64>,
}

/// The baseline and the call, `rounds` runs of each in turn. Round `k` numbers its requests from `k * count`, so
/// calls that make a new meeting per request never repeat one. The ratio is taken within each round, baseline and
/// call run back to back, and the median of those reported: on a shared machine whose speed drifts between rounds,
/// a ratio of two medians can pair a baseline from a fast moment with a call from a slow one.
async fn paired(
    rounds: usize,
    count: usize,
    concurrency: usize,
    baseline: (UrlFor, Expect),
    call: (UrlFor, Expect),
) -> Paired {
    let numbered = |url: &UrlFor, round: usize| -> UrlFor {
        let url = url.clone();
        Arc::new(move |i| url(i + round * count))
    };
    let before = cpu_times();
    let (mut baselines, mut calls, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        let b = run(count, concurrency, numbered(&baseline.0, round), baseline.1).await;
        let c = run(count, concurrency, numbered(&call.0, round), call.1).await;
        ratios.push(c.throughput() / b.throughput());
        baselines.push(b);
        calls.push(c);
    }
    let steal = before
        .zip(cpu_times())
        .and_then(|((total0, steal0), (total1, steal1))| {
            (total1 > total0).then(|| (steal1 - steal0) as f64 / (total1 - total0) as f64)
        });
    ratios.sort_by(f64::total_cmp);
    Paired {
        baseline: median(baselines),
        call: median(calls),
        ratio: ratios[ratios.len() / 2],
        steal,
    }
}

/// The machine's CPU time so far, all of it and the part stolen by the hypervisor, in ticks (the `cpu` line of
/// /proc/stat: user nice system idle iowait irq softirq steal ...); `None` where there is no such file.
fn cpu_times() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    Some((ticks.iter().sum(), ticks.get(7).copied().unwrap_or(0)))
}

/// The run of median throughput.
fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.throughput().total_cmp(&b.throughput()));
    runs.swap_remove(runs.len() / 2)
}

/// Run `count` requests, `concurrency` at a time; `url(i)` is the i-th request.
///
/// Each of the `concurrency` workers keeps one keep-alive HTTP/1.1 connection (hyper's connection-level client,
/// no pool, no URL parsing beyond the split below): the client should cost the shared cores as little as it can,
/// as `wrk` would.
async fn run(count: usize, concurrency: usize, url: UrlFor, expect: Expect) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_ticks();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let url = url.clone();
        let next = next.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut connection: Option<Connection> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let target = url(i);
                let sent = Instant::now();
                let ok = request(&mut connection, &target, expect).await;
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
    let cpu_ticks = cpu_before
        .zip(cpu_ticks())
        .map(|(before, after)| after.saturating_sub(before));
    latencies.sort();
    Run {
        latencies,
        elapsed,
        errors,
        cpu_ticks,
    }
}

/// Linux's clock tick for the CPU times in /proc (`USER_HZ`, 100 on every architecture it runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time used so far, in clock ticks: this process (the client, the API and the fake servers) plus every process
/// named `redis-server` or `postgres` (the local Redis and PostgreSQL, background processes included); `None`
/// where /proc cannot be read.
fn cpu_ticks() -> Option<u64> {
    let own = process_ticks(Path::new("/proc/self/stat"))?;
    let mut services = 0;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if matches!(comm.trim_end(), "redis-server" | "postgres") {
            services += process_ticks(&entry.path().join("stat")).unwrap_or(0);
        }
    }
    Some(own + services)
}

/// A process' user plus system time from its `stat` file. The command name (field 2, in parentheses) may hold
/// spaces, so fields are counted from its closing parenthesis: the state (field 3) comes first, utime and stime are
/// fields 14 and 15.
fn process_ticks(stat: &Path) -> Option<u64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A worker's connection: the `host:port` it goes to, and its sender.
struct Connection {
    host: String,
    sender: hyper::client::conn::http1::SendRequest<String>,
}

/// `http://host:port/path?query` as (`host:port`, `/path?query`).
fn split(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    }
}

/// One GET on the worker's connection (opened, or opened again after an error, as needed); whether the answer
/// is what `expect` says.
async fn request(connection: &mut Option<Connection>, url: &str, expect: Expect) -> bool {
    use http_body_util::BodyExt;

    let (host, path) = split(url);
    if connection
        .as_ref()
        .is_none_or(|c| c.host != host || c.sender.is_closed())
    {
        let Ok(stream) = tokio::net::TcpStream::connect(host).await else {
            return false;
        };
        let _ = stream.set_nodelay(true);
        let Ok((sender, driver)) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await
        else {
            return false;
        };
        tokio::spawn(driver);
        *connection = Some(Connection {
            host: host.to_owned(),
            sender,
        });
    }
    let Some(open) = connection.as_mut() else {
        return false;
    };
    let Ok(request) = hyper::Request::get(path)
        .header(hyper::header::HOST, host)
        .body(String::new())
    else {
        return false;
    };
    // The connection takes a request only once it has finished the previous one (hyper answers "connection was
    // not ready" otherwise, which happens when its driver task has not run since the last answer was read).
    if open.sender.ready().await.is_err() {
        *connection = None;
        return false;
    }
    let response = match open.sender.send_request(request).await {
        Ok(response) => response,
        Err(_) => {
            *connection = None;
            return false;
        }
    };
    let status = response.status();
    let Ok(body) = response.into_body().collect().await else {
        *connection = None;
        return false;
    };
    match expect {
        Expect::Redirect => status.as_u16() == 302,
        Expect::Success => {
            const SUCCESS: &[u8] = b"<returncode>SUCCESS</returncode>";
            let body = body.to_bytes();
            status.is_success() && body.windows(SUCCESS.len()).any(|w| w == SUCCESS)
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// One line of the report: a call, its baseline, the ratio and whether both goals are met.
struct Row {
    call: &'static str,
    baseline: &'static str,
    measured: Paired,
    goal: f64,
}

impl Row {
    fn met(&self) -> bool {
        let run = &self.measured.call;
        self.measured.ratio >= self.goal && run.percentile(0.99) <= P99_GOAL && run.errors == 0
    }
}

fn print_header() {
    println!(
        "{:<10} {:<26} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6}  {:<22} {:>8} {:>6} {:>6} {:>6}  verdict",
        "store",
        "call",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "cpu µs",
        "baseline",
        "req/s",
        "ratio",
        "goal",
        "steal"
    );
}

fn print_row(store: &str, row: &Row) {
    let (r, b) = (&row.measured.call, &row.measured.baseline);
    println!(
        "{store:<10} {:<26} {:>8.0} {:>7} {:>7} {:>7} {:>6} {:>6}  {:<22} {:>8.0} {:>6.2} {:>6} {:>6}  {}",
        row.call,
        r.throughput(),
        ms(r.percentile(0.50)),
        ms(r.percentile(0.99)),
        ms(r.latencies.last().copied().unwrap_or_default()),
        r.errors,
        cpu(r),
        row.baseline,
        b.throughput(),
        row.measured.ratio,
        format!(">={:.2}", row.goal),
        row.measured
            .steal
            .map_or_else(|| "-".to_owned(), |s| format!("{:.0}%", s * 100.0)),
        if row.met() { "met" } else { "NOT MET" }
    );
}

fn print_baseline(store: &str, name: &str, run: &Run) {
    println!(
        "{store:<10} {:<26} {:>8.0} {:>7} {:>7} {:>7} {:>6} {:>6}  (baseline)",
        name,
        run.throughput(),
        ms(run.percentile(0.50)),
        ms(run.percentile(0.99)),
        ms(run.latencies.last().copied().unwrap_or_default()),
        run.errors,
        cpu(run),
    );
}

/// A run's CPU time per request in µs, or `-`.
fn cpu(run: &Run) -> String {
    run.cpu_per_request()
        .map_or_else(|| "-".to_owned(), |us| format!("{us:.0}"))
}

/// The store of one back-end, and what keeps it alive (its temporary directory, or the test database).
struct OpenStore {
    store: Store,
    name: &'static str,
    _dir: Option<tempfile::TempDir>,
    _test_store: Option<TestStore>,
    /// A store given on the command line outlives the run: forget what the run wrote.
    clean_up: bool,
}

async fn open_store(args: &Args, embedded: bool) -> anyhow::Result<OpenStore> {
    if embedded {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("bench.sqlite3"))
            .await
            .context("could not open the SQLite store")?;
        return Ok(OpenStore {
            store: Store::Embedded(store),
            name: "embedded",
            _dir: Some(dir),
            _test_store: None,
            clean_up: false,
        });
    }
    match (&args.database_url, &args.redis_url) {
        (Some(database_url), Some(redis_url)) => {
            let namespace = format!("bench_{}", std::process::id());
            let store = ProductionStore::connect(ProductionConfig {
                database_url: database_url.clone(),
                redis_url: redis_url.clone(),
                namespace,
                pool_size: 8,
                op_timeout: Duration::from_secs(5),
                redis_timeout: Duration::from_secs(5),
            })
            .await
            .context("could not open the production store")?;
            Ok(OpenStore {
                store: Store::Production(store),
                name: "production",
                _dir: None,
                _test_store: None,
                clean_up: true,
            })
        }
        (None, None) => {
            let test = test_store(TestBackend::Production).await;
            Ok(OpenStore {
                store: test.store.clone(),
                name: "production",
                _dir: None,
                _test_store: Some(test),
                clean_up: false,
            })
        }
        _ => anyhow::bail!("give both --database-url and --redis-url, or neither"),
    }
}

/// Forget what the run stored.
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

/// Measure every call against one back-end; returns how many rows met their goals, and how many there were.
async fn bench_backend(args: &Args, embedded: bool) -> anyhow::Result<(usize, usize)> {
    let open = open_store(args, embedded).await?;
    let store = open.store.clone();
    let mut fakes = Vec::new();
    for i in 0..args.servers.max(1) {
        let id = format!("bench-{i}");
        let secret = format!("{id}-secret");
        let fake = FakeServer::start(secret.clone()).await?;
        // Hundreds of thousands of requests: a log of them would be reallocated under the lock every request waits for.
        fake.set_request_log(false);
        // Every meeting "create new" may make on this server (its direct baseline and the balancer's), made room
        // for now rather than grown into while requests wait.
        if args.wanted("create new meeting") {
            fake.reserve_meetings(2 * args.requests * args.rounds.max(1));
        }
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
    // For the set-up request only; the measured ones go through `run`'s own connections.
    let http = reqwest::Client::new();

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

    let (n, c, rounds) = (args.requests, args.concurrency, args.rounds);
    let fixed = |url: String| -> UrlFor { Arc::new(move |_| url.clone()) };
    let lb_call =
        |call: &'static str, query: &'static str| fixed(signed(&lb, call, query, LB_SECRET));
    let direct_call = |call: &'static str, query: &'static str| {
        fixed(signed(&direct, call, query, &direct_secret))
    };

    // Warm up both paths (connections, statement caches).
    let _ = run(
        500,
        c,
        lb_call("isMeetingRunning", "meetingID=bench-meeting"),
        Expect::Success,
    )
    .await;
    let _ = run(
        500,
        c,
        direct_call("isMeetingRunning", "meetingID=bench-meeting"),
        Expect::Success,
    )
    .await;

    let name = open.name;
    // Each baseline is measured in turn with the call judged against it (`paired`), so that drift on a shared machine
    // moves both alike.
    let index_url = lb.trim_end_matches('/').to_owned();
    let mut rows = Vec::new();

    if args.wanted("isMeetingRunning unknown") {
        let unknown_lb = lb.clone();
        let measured = paired(
            rounds,
            n,
            c,
            (fixed(index_url.clone()), Expect::Success),
            (
                Arc::new(move |i| {
                    signed(
                        &unknown_lb,
                        "isMeetingRunning",
                        &format!("meetingID=unknown-{i}"),
                        LB_SECRET,
                    )
                }),
                Expect::Success,
            ),
        )
        .await;
        print_baseline(name, "index (balancer)", &measured.baseline);
        rows.push(Row {
            call: "isMeetingRunning unknown",
            baseline: "index",
            measured,
            goal: 0.4,
        });
    }

    if args.wanted("join") {
        let join_lb = lb.clone();
        let measured = paired(
            rounds,
            n,
            c,
            (fixed(index_url), Expect::Success),
            (
                Arc::new(move |i| {
                    signed(
                        &join_lb,
                        "join",
                        &format!("meetingID=bench-meeting&fullName=u{i}&password=mp"),
                        LB_SECRET,
                    )
                }),
                Expect::Redirect,
            ),
        )
        .await;
        print_baseline(name, "index (balancer)", &measured.baseline);
        rows.push(Row {
            call: "join",
            baseline: "index",
            measured,
            goal: 0.25,
        });
    }

    for (call, label, direct_label) in [
        (
            "isMeetingRunning",
            "isMeetingRunning proxied",
            "direct isMeetingRunning",
        ),
        (
            "getMeetingInfo",
            "getMeetingInfo proxied",
            "direct getMeetingInfo",
        ),
    ] {
        if !args.wanted(label) {
            continue;
        }
        let measured = paired(
            rounds,
            n,
            c,
            (
                direct_call(call, "meetingID=bench-meeting"),
                Expect::Success,
            ),
            (lb_call(call, "meetingID=bench-meeting"), Expect::Success),
        )
        .await;
        print_baseline(name, direct_label, &measured.baseline);
        rows.push(Row {
            call: label,
            baseline: direct_label,
            measured,
            goal: 0.16,
        });
    }

    if args.wanted("create existing meeting") {
        let existing = "meetingID=bench-meeting&moderatorPW=mp";
        let measured = paired(
            rounds,
            n,
            c,
            (direct_call("create", existing), Expect::Success),
            (lb_call("create", existing), Expect::Success),
        )
        .await;
        print_baseline(name, "direct create existing", &measured.baseline);
        rows.push(Row {
            call: "create existing meeting",
            baseline: "direct create existing",
            measured,
            goal: 0.16,
        });
    }

    if args.wanted("create new meeting") {
        let (new_direct, new_secret) = (direct.clone(), direct_secret.clone());
        let new_lb = lb.clone();
        let measured = paired(
            rounds,
            n,
            c,
            (
                Arc::new(move |i| {
                    signed(
                        &new_direct,
                        "create",
                        &format!("meetingID=direct-c-{i}"),
                        &new_secret,
                    )
                }),
                Expect::Success,
            ),
            (
                Arc::new(move |i| {
                    signed(
                        &new_lb,
                        "create",
                        &format!("meetingID=bench-c-{i}"),
                        LB_SECRET,
                    )
                }),
                Expect::Success,
            ),
        )
        .await;
        print_baseline(name, "direct create new", &measured.baseline);
        rows.push(Row {
            call: "create new meeting",
            baseline: "direct create new",
            measured,
            goal: 0.16,
        });
    }

    for row in &rows {
        print_row(name, row);
    }

    stop.cancel();
    let _ = server.await;
    if open.clean_up {
        clean_up(&store).await;
    }
    let met = rows.iter().filter(|r| r.met()).count();
    Ok((met, rows.len()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let backends: &[bool] = match args.backend {
        BackendChoice::Both => &[true, false],
        BackendChoice::Embedded => &[true],
        BackendChoice::Production => &[false],
    };
    println!(
        "scalelite-api benchmark: {} requests per call and target, {} in flight, {} fake BBB servers, the median \
         of {} alternated runs; goals: ratio as listed, p99 <= {} ms, no errors",
        args.requests,
        args.concurrency,
        args.servers,
        args.rounds.max(1),
        P99_GOAL.as_millis()
    );
    print_header();
    let (mut met, mut total) = (0, 0);
    for &embedded in backends {
        let (m, t) = bench_backend(&args, embedded).await?;
        met += m;
        total += t;
    }
    println!("goals met: {met} of {total}");
    Ok(())
}
