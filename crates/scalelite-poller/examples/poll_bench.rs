//! Benchmark (not a test): how long a poll cycle takes over a big pool with hanging servers.
//!
//! ```text
//! cargo run --release -p scalelite-poller --example poll_bench -- [SERVERS] [MEETINGS] [HANGING_PERCENT] [TIMEOUT_MS] [CYCLES]
//! ```
//!
//! Defaults: 1000 fake BBB servers (in this process, on 127.0.0.1) holding 10,000 meetings between them, 5% of the
//! servers hanging (accept the connection, never answer), a per-server timeout (`POLLER_WAIT_TIMEOUT`) of 2000 ms,
//! 3 cycles, the embedded store (SQLite in a temporary directory) and 64 servers at once
//! (`POLLER_THREADS=65`). Every meeting is
//! also recorded in the store, as the API would have done. It prints each cycle's time and its ratio to the
//! per-server timeout: with fewer hanging servers than the concurrency, a cycle takes about one timeout plus the
//! time to poll the healthy servers, however many servers hang. (The second cycle also panics the hanging servers,
//! with the default `SERVER_UNHEALTHY_THRESHOLD` of 2.)

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use fake_bbb::{FakeServer, Fault, SeedMeeting};
use scalelite_core::bbb::checksum::Algorithm;
use scalelite_core::bbb_client::{BbbClient, Timeouts};
use scalelite_core::domain::{NewMeeting, NewServer, Secret, ServerPatch, ServerState};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::store::Store;
use scalelite_core::storage::{MeetingStore, ServerStore};
use scalelite_poller::{PollSettings, Poller};

/// The allocator of the poller binary (`src/main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    servers: usize,
    meetings: usize,
    hanging_percent: usize,
    timeout: Duration,
    cycles: usize,
}

impl Options {
    fn from_args() -> anyhow::Result<Options> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let number = |i: usize, default: u64| -> anyhow::Result<u64> {
            match args.get(i) {
                Some(value) => value
                    .parse()
                    .with_context(|| format!("argument {} is not a number: {value}", i + 1)),
                None => Ok(default),
            }
        };
        Ok(Options {
            servers: number(0, 1000)? as usize,
            meetings: number(1, 10_000)? as usize,
            hanging_percent: number(2, 5)? as usize,
            timeout: Duration::from_millis(number(3, 2000)?),
            cycles: number(4, 3)? as usize,
        })
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::from_args()?;
    let dir = tempfile::tempdir().context("could not create a temporary directory")?;
    let store = Store::Embedded(
        SqliteStore::open(&dir.path().join("bench.sqlite3"))
            .await
            .context("could not open the store")?,
    );

    let setup = Instant::now();
    let hanging = options.servers * options.hanging_percent / 100;
    let mut fakes = Vec::with_capacity(options.servers);
    let created_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("clock before 1970")?
        .as_millis() as u64
        - 3_600_000;
    for i in 0..options.servers {
        let id = format!("bbb-{i:04}");
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
        fakes.push((id, fake));
    }
    for m in 0..options.meetings {
        let (server_id, fake) = &fakes[m % fakes.len()];
        let meeting_id = format!("meeting-{m:05}");
        fake.seed_meeting(SeedMeeting {
            meeting_id: meeting_id.clone(),
            participant_count: (m % 40) as u32 + 1,
            moderator_count: 1,
            create_time_ms: Some(created_ms),
            running: true,
            ..SeedMeeting::default()
        })?;
        store
            .find_or_create_meeting(
                NewMeeting {
                    id: meeting_id,
                    server_id: server_id.clone(),
                    moderator_pw: "mp".into(),
                    voice_bridge_candidates: vec![format!("{}", 100_000_000 + m)],
                    tenant_id: None,
                },
                Duration::from_secs(86_400),
            )
            .await?;
    }
    // Spread the hanging servers over the pool.
    if let Some(stride) = options.servers.checked_div(hanging) {
        for (_, fake) in fakes.iter().step_by(stride).take(hanging) {
            fake.set_fault(Fault::Hang).await?;
        }
    }

    let settings = PollSettings {
        server_timeout: options.timeout,
        // POLLER_THREADS=65: a big pool needs a bigger pool than the default 4 at once.
        concurrency: 64,
        ..PollSettings::default()
    };
    let bbb = BbbClient::new(
        Timeouts {
            connect: Duration::from_secs(5),
            response: Duration::from_secs(10),
        },
        Algorithm::Sha256,
    );
    let poller = Poller::new(store, bbb, settings.clone());
    report(&format!(
        "{} servers ({} hanging), {} meetings, per-server timeout {} ms, concurrency {}; set up in {:.1} s",
        options.servers,
        hanging,
        options.meetings,
        options.timeout.as_millis(),
        settings.concurrency,
        setup.elapsed().as_secs_f64()
    ));
    for cycle in 1..=options.cycles {
        let result = poller.poll_once().await?;
        report(&format!(
            "cycle {cycle}: {:.3} s = {:.2} x timeout; online {}, offline {}, failed {}, panicked {}, \
             meetings refreshed {}, removed {}",
            result.duration.as_secs_f64(),
            result.duration.as_secs_f64() / options.timeout.as_secs_f64(),
            result.servers_online,
            result.servers_offline,
            result.servers_failed.len(),
            result.servers_panicked.len(),
            result.meetings_refreshed,
            result.meetings_removed.len(),
        ));
    }
    Ok(())
}

#[allow(clippy::print_stdout)]
fn report(line: &str) {
    println!("{line}");
}
