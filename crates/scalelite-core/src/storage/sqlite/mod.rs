//! Embedded back-end: everything in one SQLite file (WAL), shared by several processes.
//!
//! Concurrency model:
//! - Every process (API, poller, importer, CLI) opens the same file. Within a process, writes go through a pool of
//!   ONE connection (so they queue in the process instead of spinning on SQLite's lock), reads through a small
//!   pool of their own (WAL lets them run beside the writer). The API's hot writes (placements, confirmations,
//!   load bumps) are group-committed by a thread of the store's own on one more connection (`group`), and its
//!   per-request point reads run on the calling thread (`direct`).
//! - Across processes, every multi-statement write runs in `BEGIN IMMEDIATE`, which takes the database write lock
//!   before reading anything, so read-modify-write sequences (select_server, find_or_create_meeting, ...) are
//!   serialised and can never act on a stale read. Waiting for the lock is bounded by `busy_timeout`.
//! - Single statements that must be atomic are written as one statement (`INSERT ... ON CONFLICT ... RETURNING`,
//!   `DELETE ... RETURNING`).
//!
//! Timestamps are integer milliseconds since the Unix epoch. Meeting, token and lease expiry compare against the
//! caller's clock, so all processes sharing a file must share a clock (they run on one machine).

mod direct;
mod group;
mod meetings;
mod misc;
mod recordings;
mod servers;
mod tenants;

pub(crate) use recordings::RecordingTx;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::storage::{StoreError, StoreResult};

/// How long a connection waits for another connection's (or process's) write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a pooled connection of this process.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Readers of one process; writes have a single connection of their own.
const READ_CONNECTIONS: u32 = 4;
/// How often a process moves the WAL's pages into the database file (a passive checkpoint, see `checkpoints`).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);
/// The page size of a database file this store creates. SQLite sets it when the file gets its first table and
/// ignores it afterwards (a WAL file keeps its page size for good), so files created with another size keep theirs.
///
/// Smaller than SQLite's 4,096 because the hot writes are small and scattered: a new meeting changes a few rows in
/// several B-trees, and every page it touches is copied whole into the WAL at each group commit (40% of the
/// committer thread's time, most of it copying and checksumming page bytes). Measured with `--only 'create new'
/// --backend embedded` (README "Benchmarks"), 1,024 against 4,096, six alternated pairs: the committer's CPU per
/// create 37-41 µs against 41-50, p99 5.9-6.9 against 7.1-9.0 ms; reads, joins and the importer unchanged.
const PAGE_SIZE: u32 = 1024;
/// Attempts at initialising the file (WAL, migrations) when other processes initialise it at the same time.
const INIT_ATTEMPTS: u32 = 10;

/// The embedded store. Cloning is cheap (two connection pools behind `Arc`s); clones share the pools.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    /// One connection: serialises this process's writes.
    writer: SqlitePool,
    /// Several connections for plain reads.
    reader: SqlitePool,
    /// The API's per-request point reads, on the calling thread (`direct`).
    direct: Arc<direct::DirectReader>,
    /// Placements, confirmations and load bumps waiting for their group commit (`group`), which a thread of the
    /// store's own commits; closed when `close` is called or the last clone is dropped.
    writes: Arc<group::WriteQueue>,
    committer: Arc<group::Committer>,
    /// Stops the background checkpoints when `close` is called or the last clone is dropped.
    checkpoints: CancellationToken,
    _checkpoints_guard: Arc<DropGuard>,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`, switch it to WAL and run the embedded migrations.
    ///
    /// Several processes may open the same file at once.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .page_size(PAGE_SIZE);
        initialize(&options).await?;
        // The pools do not touch the journal mode: WAL is a property of the file, set once above.
        // No ping before handing out a connection (sqlx's default): a connection to a local file does not break
        // while idle, and the ping is one more trip through the connection's worker thread for every statement.
        // The writer never checkpoints (see `checkpoints`).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(backend)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        let writes = Arc::new(group::WriteQueue::default());
        let committer = Arc::new(group::Committer::start(path, &writes)?);
        let checkpoints = CancellationToken::new();
        tokio::spawn(checkpoints_task(options, checkpoints.clone()));
        Ok(SqliteStore {
            writer,
            reader,
            direct: Arc::new(direct::DirectReader::new(path)),
            writes,
            committer,
            _checkpoints_guard: Arc::new(checkpoints.clone().drop_guard()),
            checkpoints,
        })
    }

    /// Close both pools, waiting for connections in use to be returned, and the group commits, waiting for the
    /// queued ones.
    pub async fn close(&self) {
        self.checkpoints.cancel();
        self.committer.close().await;
        self.direct.close();
        self.reader.close().await;
        self.writer.close().await;
    }

    /// A write transaction holding the database write lock from its first statement on.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)
    }
}

/// Background checkpoints: every [`CHECKPOINT_EVERY`], copy what the WAL holds into the database file, on a
/// connection of its own, until `stop`.
///
/// SQLite's default is that the commit that takes the WAL past 1,000 pages runs the checkpoint, fsync included,
/// while the process's only writer connection waits: every write queued behind it waits too (a third of the
/// writer's time per new meeting under load, README "Benchmarks"). A passive checkpoint needs no write lock, so
/// here writes go on while it runs. Every process of a deployment does this; two at once are harmless (one of
/// them finds the checkpoint lock taken and tries again next time). A process that ends without it (a CLI command)
/// leaves its few pages to the next checkpoint, or to SQLite's own when the last connection closes.
async fn checkpoints_task(options: SqliteConnectOptions, stop: CancellationToken) {
    use sqlx::{ConnectOptions, Connection};
    let mut connection = match options.connect().await {
        Ok(connection) => connection,
        Err(e) => {
            tracing::warn!(error.message = %e, "sqlite: no connection for checkpoints; the WAL is not checkpointed");
            return;
        }
    };
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut connection)
            .await
        {
            tracing::debug!(error.message = %e, "sqlite: checkpoint failed; next time");
        }
    }
    let _ = connection.close().await;
}

/// Switch the file to WAL and apply the embedded migrations, on a connection of its own.
///
/// Both steps can fail at once when another process does the same on a fresh file: entering WAL needs an
/// exclusive lock that SQLite does not wait for, and sqlx takes no lock around SQLite migrations. The schema is
/// written with `IF NOT EXISTS`, so the loser simply tries again (and then finds the work done).
async fn initialize(options: &SqliteConnectOptions) -> StoreResult<()> {
    let options = options.clone().journal_mode(SqliteJournalMode::Wal);
    let migrator = sqlx::migrate!("../../migrations/sqlite");
    let mut attempt = 1;
    loop {
        let result = async {
            // A pool of one rather than a bare connection: `Migrator::run` on `&mut SqliteConnection` makes the
            // future not `Send`.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(backend)?;
            let migrated = migrator.run(&pool).await.map_err(backend);
            pool.close().await;
            migrated
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if attempt < INIT_ATTEMPTS => {
                tracing::debug!(error.message = %e, attempt, "sqlite initialisation failed, retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "could not initialise the sqlite database: {e}"
                )));
            }
        }
    }
}

/// Any sqlx error as a back-end error.
fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Whether the error is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// The current time in milliseconds since the epoch.
fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `now + ttl` in milliseconds, saturating.
fn expiry_ms(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

fn to_ms(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

fn from_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// A JSON array of strings, bound as one parameter and unpacked with `json_each` (avoids SQLite's limit on
/// bound variables for long id lists).
fn json_list<T: serde::Serialize>(items: &[T]) -> StoreResult<String> {
    serde_json::to_string(items).map_err(backend)
}

/// A GLOB pattern matching every string that starts with `prefix`, case-sensitively. GLOB's special characters
/// (`*`, `?`, `[`) are escaped by enclosing them in brackets; `]` is only special inside brackets.
fn glob_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        match c {
            '*' | '?' | '[' => {
                pattern.push('[');
                pattern.push(c);
                pattern.push(']');
            }
            _ => pattern.push(c),
        }
    }
    pattern.push('*');
    pattern
}
