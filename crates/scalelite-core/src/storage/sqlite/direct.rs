//! The API's per-request point reads, run on the calling thread through connections of their own.
//!
//! sqlx runs every SQLite statement on the connection's worker thread: each read is a hand-over to that thread and
//! a wake-up back through the async runtime, which under load waits behind every other ready task. For the reads
//! each API call makes (the meeting with its server; on create, the callback data) that hop cost more than the
//! read itself, an indexed lookup of a few microseconds. Here such a read runs where it is asked for, on a
//! connection taken from a small idle list (opened on demand), its statement compiled once per connection.
//!
//! These connections only read (`query_only`), in WAL mode beside the writer and the other processes; a WAL reader
//! does not wait for writers, and `busy_timeout` bounds the rare wait (the WAL being recovered). Everything else
//! still goes through the sqlx pools.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rusqlite::{Connection, OpenFlags, Row};

use crate::storage::sqlite::BUSY_TIMEOUT;
use crate::storage::sqlite::servers::ServerColumns;
use crate::storage::{StoreError, StoreResult};

/// Idle connections kept for the next reads; more are opened while many read at once and closed afterwards.
const MAX_IDLE: usize = 8;
/// Statements kept compiled per connection.
const STATEMENT_CACHE: usize = 16;

/// Connections for point reads on the calling thread.
pub(super) struct DirectReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl fmt::Debug for DirectReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectReader")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl DirectReader {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::default(),
        }
    }

    /// Run `read` on an idle connection (or a new one), then keep the connection for the next read.
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let idle = self.lock().pop();
        let connection = match idle {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection);
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(connection);
        }
        result
    }

    /// Close the idle connections (the store is being closed).
    pub(super) fn close(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // Nothing panics while holding the lock; a poisoned list is still a list of idle connections.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn open(&self) -> StoreResult<Connection> {
        let connection = open_connection(&self.path, STATEMENT_CACHE)?;
        connection
            .pragma_update(None, "query_only", true)
            .map_err(backend)?;
        Ok(connection)
    }
}

/// A rusqlite connection to the store's file (which exists by then), used by one thread at a time, waiting
/// `BUSY_TIMEOUT` for locks, keeping `statement_cache` statements compiled.
pub(super) fn open_connection(path: &Path, statement_cache: usize) -> StoreResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    connection.set_prepared_statement_cache_capacity(statement_cache);
    Ok(connection)
}

/// The first row of `sql` with `params`, mapped by `map`; `None` when there is none.
pub(super) fn first_row<T>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement.query(params).map_err(backend)?;
    match rows.next().map_err(backend)? {
        Some(row) => map(row).map(Some),
        None => Ok(None),
    }
}

impl ServerColumns for Row<'_> {
    fn text(&self, name: &str) -> StoreResult<String> {
        self.get(name).map_err(backend)
    }
    fn optional_text(&self, name: &str) -> StoreResult<Option<String>> {
        self.get(name).map_err(backend)
    }
    fn real(&self, name: &str) -> StoreResult<f64> {
        self.get(name).map_err(backend)
    }
    fn optional_real(&self, name: &str) -> StoreResult<Option<f64>> {
        self.get(name).map_err(backend)
    }
    fn integer(&self, name: &str) -> StoreResult<i64> {
        self.get(name).map_err(backend)
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.get(name).map_err(backend)
    }
}
