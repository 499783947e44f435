//! The PostgreSQL half of the production back-end: recordings and callback data, in the original's tables.
//!
//! Runtime queries only (`sqlx::query` + `bind`). Every operation is bounded by `op_timeout` (pool acquire included);
//! a connection whose operation timed out is closed rather than returned to the pool, since it may be stuck
//! half-way through a statement. Booleans may be NULL in databases built by the original's migrations: they read
//! as false. Timestamps are `timestamp without time zone` holding UTC, bound and read as naive UTC values so the
//! session time zone never shifts them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::domain::{CallbackData, PlaybackFormat, Recording, RecordingFilter, Thumbnail};
use crate::storage::production::callback_yaml::{self, CallbackAttributes};
use crate::storage::production::drain::{Drained, front};
use crate::storage::{StoreError, StoreResult};

/// Our migrations (`migrations/postgres/`), written to adopt a database the original created.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Namespace of our advisory locks (first key of `pg_advisory_xact_lock(int, int)`).
const CALLBACK_LOCK_SPACE: i32 = 0x5c1e_0001;

const RECORDING_COLUMNS: &str = "r.id, r.record_id, r.meeting_id, r.name, COALESCE(r.published, false) AS published, \
     r.participants, r.state, r.starttime, r.endtime, r.deleted_at, COALESCE(r.protected, false) AS protected, \
     COALESCE(r.publish_updated, false) AS publish_updated";

/// Cloneable handle on the PostgreSQL side.
#[derive(Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    op_timeout: Duration,
    callback_reads: Arc<CallbackReads>,
}

/// The most meeting ids one batched read of callback data asks for.
const CALLBACK_READ_BATCH: usize = 256;

/// Reads of callback data by meeting id (`get_callback_data`, one per create of a meeting not known to be free of
/// callback URLs), batched (`drain.rs`): a read joins the ones waiting, and one task at a time asks PostgreSQL for
/// every meeting id waiting in one statement, answers each, then looks again. Alone, a read goes out at once; under
/// a burst of creates the statements (and PostgreSQL's per-statement work and wake-ups) are shared.
type CallbackReads = Drained<Vec<(String, oneshot::Sender<StoreResult<Vec<CallbackRow>>>)>>;

/// One `callback_data` row as stored: id, recording id, the YAML of its attributes.
type CallbackRow = (i64, Option<i32>, Option<String>);

type PgResult<T> = Result<T, PgOpError>;

/// What a query function can fail with: a database error, or a store-level answer (not found, conflict).
enum PgOpError {
    Db(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for PgOpError {
    fn from(e: sqlx::Error) -> Self {
        PgOpError::Db(e)
    }
}

impl From<StoreError> for PgOpError {
    fn from(e: StoreError) -> Self {
        PgOpError::Store(e)
    }
}

/// Acquire a connection and run `$body` (a future using `$conn: &mut PgConnection`) before one deadline.
macro_rules! pg_op {
    ($self:ident, $op:literal, |$conn:ident| $body:expr) => {{
        let deadline = Instant::now() + $self.op_timeout;
        let mut pooled = $self.acquire($op, deadline).await?;
        let outcome = {
            let $conn: &mut PgConnection = &mut pooled;
            tokio::time::timeout_at(deadline, $body).await
        };
        $self.finish($op, pooled, outcome)
    }};
}

/// A pooled connection idle at least this long is pinged before it is handed out.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

impl PgStore {
    /// Connect, check the server answers within `op_timeout`, and run the migrations.
    pub(crate) async fn connect(
        url: &str,
        pool_size: u32,
        op_timeout: Duration,
    ) -> StoreResult<Self> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("postgres: invalid DATABASE_URL: {e}")))?;
        let options = options.application_name("scalelite");
        // sqlx pings every connection it hands out by default: a second round trip for every operation (the API's
        // `create` reads the callback data on each call). Only a connection idle for a while is pinged here: a
        // connection PostgreSQL dropped (a restart takes longer than that) is still found and replaced before
        // use, and one that fails an operation anyway is not reused (`finish`).
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(op_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        let store = Self {
            pool,
            op_timeout,
            callback_reads: Arc::default(),
        };
        store.health_check().await?;
        MIGRATOR
            .run(&store.pool)
            .await
            .map_err(|e| StoreError::Backend(format!("postgres migrations: {e}")))?;
        Ok(store)
    }

    async fn acquire(&self, op: &str, deadline: Instant) -> StoreResult<PoolConnection<Postgres>> {
        match tokio::time::timeout_at(deadline, self.pool.acquire()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(db_error(op, e)),
            Err(_) => Err(self.timed_out(op)),
        }
    }

    fn finish<T>(
        &self,
        op: &str,
        mut conn: PoolConnection<Postgres>,
        outcome: Result<PgResult<T>, tokio::time::error::Elapsed>,
    ) -> StoreResult<T> {
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(PgOpError::Store(e))) => Err(e),
            Ok(Err(PgOpError::Db(e))) => {
                if matches!(
                    e,
                    sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_)
                ) {
                    // The connection itself failed: do not hand it out again.
                    conn.close_on_drop();
                }
                Err(db_error(op, e))
            }
            Err(_) => {
                // The statement may still be running on a connection nobody reads: do not reuse it.
                conn.close_on_drop();
                tracing::warn!(
                    op,
                    "postgres did not answer in time; dropping the connection"
                );
                Err(self.timed_out(op))
            }
        }
    }

    fn timed_out(&self, op: &str) -> StoreError {
        StoreError::Backend(format!(
            "postgres {op}: no answer within {:?}",
            self.op_timeout
        ))
    }

    pub(crate) async fn health_check(&self) -> StoreResult<()> {
        pg_op!(self, "health check", |c| async move {
            sqlx::query("SELECT 1").execute(&mut *c).await?;
            PgResult::Ok(())
        })
    }

    pub(crate) async fn upsert_recording(&self, recording: Recording) -> StoreResult<Recording> {
        pg_op!(self, "upsert recording", |c| upsert_recording(
            c, &recording
        ))
    }

    pub(crate) async fn get_recording(&self, record_id: &str) -> StoreResult<Recording> {
        pg_op!(self, "get recording", |c| get_recording(c, record_id))
    }

    pub(crate) async fn find_recordings(
        &self,
        filter: &RecordingFilter,
    ) -> StoreResult<Vec<Recording>> {
        pg_op!(self, "find recordings", |c| find_recordings(c, filter))
    }

    pub(crate) async fn set_published(&self, record_id: &str, published: bool) -> StoreResult<()> {
        pg_op!(self, "set published", |c| async move {
            let done = sqlx::query(
                "UPDATE recordings SET published = $2, publish_updated = true, \
                 state = CASE WHEN $2 THEN 'published' ELSE 'unpublished' END WHERE record_id = $1",
            )
            .bind(record_id)
            .bind(published)
            .execute(&mut *c)
            .await?;
            found(done.rows_affected(), record_id)
        })
    }

    pub(crate) async fn set_protected(&self, record_id: &str, protected: bool) -> StoreResult<()> {
        pg_op!(self, "set protected", |c| async move {
            let done = sqlx::query("UPDATE recordings SET protected = $2 WHERE record_id = $1")
                .bind(record_id)
                .bind(protected)
                .execute(&mut *c)
                .await?;
            found(done.rows_affected(), record_id)
        })
    }

    pub(crate) async fn update_metadata(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
    ) -> StoreResult<()> {
        pg_op!(self, "update metadata", |c| update_metadata(
            c, record_ids, upserts, deletes
        ))
    }

    pub(crate) async fn update_recordings(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
        protect: Option<bool>,
    ) -> StoreResult<()> {
        pg_op!(self, "update recordings", |c| async move {
            let mut tx = c.begin().await?;
            update_metadata(&mut tx, record_ids, upserts, deletes).await?;
            if let Some(protect) = protect {
                sqlx::query("UPDATE recordings SET protected = $2 WHERE record_id = ANY($1)")
                    .bind(record_ids)
                    .bind(protect)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            PgResult::Ok(())
        })
    }

    /// Begin a transaction and lock the recording's row (`FOR UPDATE`, the lock the original's `with_lock` takes,
    /// so the two implementations exclude each other too), then read it.
    pub(crate) async fn lock_recording(
        &self,
        record_id: &str,
    ) -> StoreResult<(Recording, RecordingTx)> {
        let op = "lock recording";
        let deadline = Instant::now() + self.op_timeout;
        let begun = tokio::time::timeout_at(deadline, self.pool.begin()).await;
        let mut tx = match begun {
            Ok(Ok(tx)) => tx,
            Ok(Err(e)) => return Err(db_error(op, e)),
            Err(_) => return Err(self.timed_out(op)),
        };
        let read = tokio::time::timeout_at(deadline, async {
            let locked: Option<i64> =
                sqlx::query_scalar("SELECT id FROM recordings WHERE record_id = $1 FOR UPDATE")
                    .bind(record_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if locked.is_none() {
                return Err(StoreError::NotFound(format!("recording {record_id}")).into());
            }
            get_recording(&mut tx, record_id).await
        })
        .await;
        match read {
            Ok(Ok(recording)) => Ok((
                recording,
                RecordingTx {
                    tx,
                    record_id: record_id.to_owned(),
                    op_timeout: self.op_timeout,
                },
            )),
            Ok(Err(PgOpError::Store(e))) => Err(e),
            Ok(Err(PgOpError::Db(e))) => Err(db_error(op, e)),
            // Dropping the transaction rolls it back once the connection is free again.
            Err(_) => Err(self.timed_out(op)),
        }
    }

    pub(crate) async fn mark_recording_deleted(&self, record_id: &str) -> StoreResult<()> {
        pg_op!(self, "mark recording deleted", |c| mark_deleted(
            c, record_id
        ))
    }

    /// The first row (by id) of `meeting_id` whose `:tenant_id` attribute is `tenant_id`; the original's rows
    /// have none, so they belong to no tenant.
    pub(crate) async fn get_callback_data(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<Option<CallbackData>> {
        let rows = self.read_callback_rows(meeting_id).await?;
        for (_, recording_id, text) in rows {
            let attrs = decode_callback_attributes(meeting_id, text)?;
            if attrs.tenant_id.as_deref() == tenant_id {
                return Ok(Some(CallbackData {
                    meeting_id: meeting_id.to_owned(),
                    tenant_id: attrs.tenant_id,
                    server_id: attrs.server_id,
                    recording_id: recording_id.map(i64::from),
                    recording_ready_url: attrs.recording_ready_url,
                    analytics_callback_url: attrs.analytics_callback_url,
                }));
            }
        }
        Ok(None)
    }

    /// The callback data rows of `meeting_id` in id order, read with the other reads waiting (`CallbackReads`).
    async fn read_callback_rows(&self, meeting_id: &str) -> StoreResult<Vec<CallbackRow>> {
        let (reply, answer) = oneshot::channel();
        let read = (meeting_id.to_owned(), reply);
        if self.callback_reads.add(|reads| reads.push(read)) {
            let store = self.clone();
            tokio::spawn(async move { store.read_waiting_callback_rows().await });
        }
        // The reads ahead of this one in the queue take at most an operation each.
        match tokio::time::timeout(self.op_timeout.saturating_mul(2), answer).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(_)) => Err(StoreError::Backend(
                "postgres get callback data: the read was dropped".into(),
            )),
            Err(_) => Err(self.timed_out("get callback data")),
        }
    }

    /// The rows of each of `meeting_ids`, in one statement under the usual operation bounds (`pg_op!`).
    async fn callback_rows_of(
        &self,
        meeting_ids: &[&str],
    ) -> StoreResult<HashMap<String, Vec<CallbackRow>>> {
        pg_op!(self, "get callback data", |c| callback_rows_of(
            c,
            meeting_ids
        ))
    }

    /// Answer the waiting reads of callback data, a statement per batch, until none waits.
    async fn read_waiting_callback_rows(&self) {
        while let Some(batch) = self
            .callback_reads
            .next(|reads| front(reads, CALLBACK_READ_BATCH))
        {
            let mut ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            match self.callback_rows_of(&ids).await {
                Ok(rows) => {
                    for (id, reply) in batch {
                        let _ = reply.send(Ok(rows.get(&id).cloned().unwrap_or_default()));
                    }
                }
                Err(e) => {
                    // Every read of the batch gets the statement's error.
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    pub(crate) async fn put_callback_data(&self, data: CallbackData) -> StoreResult<()> {
        pg_op!(self, "put callback data", |c| put_callback_data(c, &data))
    }

    /// A page of the callback data that may hold URLs, for `ProductionStore::index_callback_urls`: of the rows
    /// after id `after`, at most `limit`, the last id read (`None`: no row left) and the `(tenant id, meeting id)`
    /// of each row holding URLs or not readable (so that a create still reads it, and answers its error).
    pub(crate) async fn callback_urls_after(
        &self,
        after: i64,
        limit: i64,
    ) -> StoreResult<(Option<i64>, Vec<(Option<String>, String)>)> {
        pg_op!(self, "scan callback data", |c| callback_urls_after(
            c, after, limit
        ))
    }
}

/// The production half of a `RecordingLock`: a transaction holding the row's `FOR UPDATE` lock.
pub(crate) struct RecordingTx {
    tx: sqlx::Transaction<'static, Postgres>,
    record_id: String,
    op_timeout: Duration,
}

impl RecordingTx {
    pub(crate) async fn set_published(self, published: bool) -> StoreResult<()> {
        let record_id = self.record_id.clone();
        self.finish("set published", |c| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE recordings SET published = $2, publish_updated = true, \
                     state = CASE WHEN $2 THEN 'published' ELSE 'unpublished' END WHERE record_id = $1",
                )
                .bind(&record_id)
                .bind(published)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await
    }

    pub(crate) async fn mark_deleted(self) -> StoreResult<()> {
        let record_id = self.record_id.clone();
        self.finish("mark recording deleted", |c| {
            Box::pin(async move { mark_deleted(c, &record_id).await })
        })
        .await
    }

    pub(crate) async fn upsert(&mut self, recording: &Recording) -> StoreResult<Recording> {
        let op = "upsert locked recording";
        match tokio::time::timeout(self.op_timeout, upsert_recording(&mut self.tx, recording)).await
        {
            Ok(Ok(stored)) => Ok(stored),
            Ok(Err(PgOpError::Store(e))) => Err(e),
            Ok(Err(PgOpError::Db(e))) => Err(db_error(op, e)),
            Err(_) => Err(StoreError::Backend(format!(
                "postgres {op}: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.finish("commit recording lock", |_| Box::pin(async { Ok(()) }))
            .await
    }

    pub(crate) async fn release(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::warn!(error.message = %e, "could not roll back a recording lock");
        }
    }

    /// Run `change` in the transaction, then commit, within `op_timeout`.
    async fn finish<F>(self, op: &str, change: F) -> StoreResult<()>
    where
        F: for<'c> FnOnce(
            &'c mut PgConnection,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = PgResult<()>> + Send + 'c>,
        >,
    {
        let deadline = Instant::now() + self.op_timeout;
        let mut tx = self.tx;
        let outcome = tokio::time::timeout_at(deadline, async move {
            change(&mut tx).await?;
            tx.commit().await?;
            PgResult::Ok(())
        })
        .await;
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(PgOpError::Store(e))) => Err(e),
            Ok(Err(PgOpError::Db(e))) => Err(db_error(op, e)),
            Err(_) => Err(StoreError::Backend(format!(
                "postgres {op}: no answer within {:?}",
                self.op_timeout
            ))),
        }
    }
}

fn db_error(op: &str, e: sqlx::Error) -> StoreError {
    StoreError::Backend(format!("postgres {op}: {e}"))
}

fn found(rows: u64, record_id: &str) -> PgResult<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(format!("recording {record_id}")).into());
    }
    Ok(())
}

fn naive(t: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    t.map(|t| t.naive_utc())
}

fn utc(t: Option<NaiveDateTime>) -> Option<DateTime<Utc>> {
    t.map(|t| t.and_utc())
}

/// A `LIKE` pattern matching every string starting with `prefix` (escape character `|`).
pub(crate) fn like_prefix(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for ch in prefix.chars() {
        if matches!(ch, '|' | '%' | '_') {
            out.push('|');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

fn recording_from_row(row: &PgRow) -> Result<(i64, Recording), sqlx::Error> {
    Ok((
        row.try_get("id")?,
        Recording {
            record_id: row
                .try_get::<Option<String>, _>("record_id")?
                .unwrap_or_default(),
            meeting_id: row
                .try_get::<Option<String>, _>("meeting_id")?
                .unwrap_or_default(),
            name: row.try_get("name")?,
            published: row.try_get("published")?,
            participants: row.try_get("participants")?,
            state: row.try_get("state")?,
            starttime: utc(row.try_get("starttime")?),
            endtime: utc(row.try_get("endtime")?),
            deleted_at: utc(row.try_get("deleted_at")?),
            protected: row.try_get("protected")?,
            publish_updated: row.try_get("publish_updated")?,
            metadata: Vec::new(),
            playback_formats: Vec::new(),
        },
    ))
}

/// Fill metadata, formats and thumbnails of `rows` with three queries, keeping the order of `rows`.
async fn with_children(
    c: &mut PgConnection,
    rows: Vec<(i64, Recording)>,
) -> PgResult<Vec<Recording>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let mut metadata: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for row in sqlx::query(
        "SELECT recording_id, key, value FROM metadata WHERE recording_id = ANY($1) ORDER BY recording_id, id",
    )
    .bind(&ids)
    .fetch_all(&mut *c)
    .await?
    {
        let key: Option<String> = row.try_get("key")?;
        let value: Option<String> = row.try_get("value")?;
        metadata
            .entry(row.try_get("recording_id")?)
            .or_default()
            .push((key.unwrap_or_default(), value.unwrap_or_default()));
    }
    let mut formats: HashMap<i64, Vec<(i64, PlaybackFormat)>> = HashMap::new();
    let mut format_ids = Vec::new();
    for row in sqlx::query(
        "SELECT id, recording_id, format, url, length, processing_time FROM playback_formats \
         WHERE recording_id = ANY($1) ORDER BY recording_id, format, id",
    )
    .bind(&ids)
    .fetch_all(&mut *c)
    .await?
    {
        let id: i64 = row.try_get("id")?;
        format_ids.push(id);
        formats
            .entry(row.try_get("recording_id")?)
            .or_default()
            .push((
                id,
                PlaybackFormat {
                    format: row
                        .try_get::<Option<String>, _>("format")?
                        .unwrap_or_default(),
                    url: row.try_get::<Option<String>, _>("url")?.unwrap_or_default(),
                    length: row.try_get("length")?,
                    processing_time: row.try_get("processing_time")?,
                    thumbnails: Vec::new(),
                },
            ));
    }
    let mut thumbnails: HashMap<i64, Vec<Thumbnail>> = HashMap::new();
    if !format_ids.is_empty() {
        for row in sqlx::query(
            "SELECT playback_format_id, width, height, alt, url, sequence FROM thumbnails \
             WHERE playback_format_id = ANY($1) ORDER BY playback_format_id, sequence, id",
        )
        .bind(&format_ids)
        .fetch_all(&mut *c)
        .await?
        {
            thumbnails
                .entry(row.try_get("playback_format_id")?)
                .or_default()
                .push(Thumbnail {
                    width: row.try_get("width")?,
                    height: row.try_get("height")?,
                    alt: row.try_get("alt")?,
                    url: row.try_get::<Option<String>, _>("url")?.unwrap_or_default(),
                    sequence: row
                        .try_get::<Option<i32>, _>("sequence")?
                        .unwrap_or_default(),
                });
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, mut rec)| {
            rec.metadata = metadata.remove(&id).unwrap_or_default();
            rec.playback_formats = formats
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(fid, mut f)| {
                    f.thumbnails = thumbnails.remove(&fid).unwrap_or_default();
                    f
                })
                .collect();
            rec
        })
        .collect())
}

/// A recording's metadata, formats and thumbnails as `get_recording` and `upsert_recording` read them in the
/// statement that reads the recording: one JSON array per table (`json_agg` is NULL for no rows), in the order of
/// `with_children`.
const CHILDREN_JSON: &str = "(SELECT json_agg(json_build_array(m.key, m.value) ORDER BY m.id) FROM metadata m \
     WHERE m.recording_id = r.id)::text AS metadata_json, \
     (SELECT json_agg(json_build_array(f.id, f.format, f.url, f.length, f.processing_time) ORDER BY f.format, f.id) \
     FROM playback_formats f WHERE f.recording_id = r.id)::text AS formats_json, \
     (SELECT json_agg(json_build_array(t.playback_format_id, t.width, t.height, t.alt, t.url, t.sequence) \
     ORDER BY t.playback_format_id, t.sequence, t.id) FROM thumbnails t JOIN playback_formats f \
     ON f.id = t.playback_format_id WHERE f.recording_id = r.id)::text AS thumbnails_json";

type MetadataJson = Vec<(Option<String>, Option<String>)>;
type FormatJson = Vec<(
    i64,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<i32>,
)>;
type ThumbnailJson = Vec<(
    i64,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<i32>,
)>;

/// A recording read with its children in one statement (the columns of `RECORDING_COLUMNS` and `CHILDREN_JSON`).
fn recording_with_children(row: &PgRow) -> PgResult<Recording> {
    fn parse<T: serde::de::DeserializeOwned + Default>(row: &PgRow, column: &str) -> PgResult<T> {
        let Some(text) = row.try_get::<Option<String>, _>(column)? else {
            return Ok(T::default());
        };
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Backend(format!("postgres {column}: {e}")).into())
    }
    let (_, mut rec) = recording_from_row(row)?;
    let metadata: MetadataJson = parse(row, "metadata_json")?;
    let formats: FormatJson = parse(row, "formats_json")?;
    let thumbnails: ThumbnailJson = parse(row, "thumbnails_json")?;
    rec.metadata = metadata
        .into_iter()
        .map(|(key, value)| (key.unwrap_or_default(), value.unwrap_or_default()))
        .collect();
    let mut by_format: HashMap<i64, Vec<Thumbnail>> = HashMap::new();
    for (fid, width, height, alt, url, sequence) in thumbnails {
        by_format.entry(fid).or_default().push(Thumbnail {
            width,
            height,
            alt,
            url: url.unwrap_or_default(),
            sequence: sequence.unwrap_or_default(),
        });
    }
    rec.playback_formats = formats
        .into_iter()
        .map(
            |(fid, format, url, length, processing_time)| PlaybackFormat {
                format: format.unwrap_or_default(),
                url: url.unwrap_or_default(),
                length,
                processing_time,
                thumbnails: by_format.remove(&fid).unwrap_or_default(),
            },
        )
        .collect();
    Ok(rec)
}

/// One statement: the recording with its metadata, formats and thumbnails.
async fn get_recording(c: &mut PgConnection, record_id: &str) -> PgResult<Recording> {
    let row = sqlx::query(&format!(
        "SELECT {RECORDING_COLUMNS}, {CHILDREN_JSON} FROM recordings r WHERE r.record_id = $1"
    ))
    .bind(record_id)
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::NotFound(format!("recording {record_id}")).into());
    };
    recording_with_children(&row)
}

async fn find_recordings(c: &mut PgConnection, f: &RecordingFilter) -> PgResult<Vec<Recording>> {
    let mut qb: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
        "SELECT {RECORDING_COLUMNS} FROM recordings r WHERE TRUE"
    ));
    if let Some(ids) = &f.meeting_ids {
        qb.push(" AND r.meeting_id = ANY(")
            .push_bind(ids.clone())
            .push(")");
    }
    if let Some(prefixes) = &f.record_id_prefixes {
        if prefixes.is_empty() {
            qb.push(" AND FALSE");
        } else {
            qb.push(" AND (");
            for (i, p) in prefixes.iter().enumerate() {
                if i > 0 {
                    qb.push(" OR ");
                }
                qb.push("r.record_id LIKE ")
                    .push_bind(like_prefix(p))
                    .push(" ESCAPE '|'");
            }
            qb.push(")");
        }
    }
    if let Some(ids) = &f.record_ids {
        qb.push(" AND r.record_id = ANY(")
            .push_bind(ids.clone())
            .push(")");
    }
    if let Some(states) = &f.states {
        qb.push(" AND r.state = ANY(")
            .push_bind(states.clone())
            .push(")");
    }
    if let Some(pairs) = &f.metadata_any {
        if pairs.is_empty() {
            qb.push(" AND FALSE");
        } else {
            let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
            let values: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
            qb.push(
                " AND EXISTS (SELECT 1 FROM metadata m WHERE m.recording_id = r.id \
                 AND (m.key, m.value) IN (SELECT * FROM UNNEST(",
            )
            .push_bind(keys)
            .push("::varchar[], ")
            .push_bind(values)
            .push("::varchar[])))");
        }
    }
    if let Some(tenant) = &f.tenant_id {
        qb.push(
            " AND EXISTS (SELECT 1 FROM metadata t WHERE t.recording_id = r.id AND t.key = 'tenant-id' \
             AND t.value = ",
        )
        .push_bind(tenant.clone())
        .push(")");
    }
    qb.push(" ORDER BY r.starttime DESC, r.id DESC");
    if let Some(offset) = f.offset {
        qb.push(" OFFSET ")
            .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    }
    if let Some(limit) = f.limit {
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    let rows = qb.build().fetch_all(&mut *c).await?;
    let recs = rows
        .iter()
        .map(recording_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    with_children(c, recs).await
}

/// The importer's write in two statements, whatever the number of metadata, formats and thumbnails (each statement is
/// a round trip, and the import waits for every one): the callback data of the meeting, read first, then one
/// statement whose data-modifying `WITH` clauses write the recording, its metadata, formats and thumbnails and link
/// the callback data, atomically, and return what they wrote. A recording it inserted is then complete; one it updated
/// may have kept metadata and formats of an earlier import, and is read again.
async fn upsert_recording(c: &mut PgConnection, r: &Recording) -> PgResult<Recording> {
    // The original's importer links the meeting's (first) callback data row to the recording it imported: here the
    // first row the recording's tenant left (the original's rows belong to no tenant). Read before the write rather
    // than after it, which under READ COMMITTED (no lock is taken on callback_data) is the same. The column is an
    // `integer`: a row id beyond it is left unlinked rather than failing the import.
    let tenant = r
        .metadata
        .iter()
        .find(|(key, value)| key == "tenant-id" && !value.is_empty())
        .map(|(_, value)| value.clone());
    let callback_row: Option<i64> = callback_rows(c, &r.meeting_id)
        .await?
        .into_iter()
        .find(|(_, _, attrs)| attrs.tenant_id == tenant)
        .map(|(row, _, _)| row);

    let (keys, values) = metadata_columns(&r.metadata);
    let names: Vec<&str> = r
        .playback_formats
        .iter()
        .map(|f| f.format.as_str())
        .collect();
    let urls: Vec<&str> = r.playback_formats.iter().map(|f| f.url.as_str()).collect();
    let lengths: Vec<Option<i32>> = r.playback_formats.iter().map(|f| f.length).collect();
    let times: Vec<Option<i32>> = r
        .playback_formats
        .iter()
        .map(|f| f.processing_time)
        .collect();
    let mut owners: Vec<&str> = Vec::new();
    let mut widths: Vec<Option<i32>> = Vec::new();
    let mut heights: Vec<Option<i32>> = Vec::new();
    let mut alts: Vec<Option<&str>> = Vec::new();
    let mut thumbnail_urls: Vec<&str> = Vec::new();
    let mut seqs: Vec<i32> = Vec::new();
    for f in &r.playback_formats {
        for t in &f.thumbnails {
            owners.push(&f.format);
            widths.push(t.width);
            heights.push(t.height);
            alts.push(t.alt.as_deref());
            thumbnail_urls.push(&t.url);
            seqs.push(t.sequence);
        }
    }
    let row = sqlx::query(UPSERT_RECORDING)
        .bind(&r.record_id)
        .bind(&r.meeting_id)
        .bind(&r.name)
        .bind(r.published)
        .bind(r.participants)
        .bind(&r.state)
        .bind(naive(r.starttime))
        .bind(naive(r.endtime))
        .bind(naive(r.deleted_at))
        .bind(r.protected)
        .bind(r.publish_updated)
        .bind(keys)
        .bind(values)
        .bind(names)
        .bind(urls)
        .bind(lengths)
        .bind(times)
        .bind(owners)
        .bind(widths)
        .bind(heights)
        .bind(alts)
        .bind(thumbnail_urls)
        .bind(seqs)
        .bind(callback_row)
        .fetch_one(&mut *c)
        .await?;
    if row.try_get("inserted")? {
        recording_with_children(&row)
    } else {
        get_recording(c, &r.record_id).await
    }
}

/// The statement of `upsert_recording`. Conditional on the stored row (see `RecordingStore::upsert_recording`): once
/// published or unpublished through the API, the stored flag wins and the import never resets it. The `WITH`
/// clauses all see the tables as they were before the statement, so the thumbnails deleted are only the old ones
/// of the formats written; their `RETURNING` rows are what the statement wrote. `xmax = 0` on the row returned by
/// `INSERT ... ON CONFLICT DO UPDATE` tells an inserted row from an updated one (an update leaves the row's lock in
/// `xmax`).
const UPSERT_RECORDING: &str = "WITH rec AS (\
     INSERT INTO recordings AS r (record_id, meeting_id, name, published, participants, state, starttime, \
     endtime, deleted_at, protected, publish_updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
     ON CONFLICT (record_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id, name = EXCLUDED.name, \
     published = CASE WHEN COALESCE(r.publish_updated, false) \
         THEN COALESCE(r.published, false) ELSE EXCLUDED.published END, \
     participants = EXCLUDED.participants, \
     state = CASE WHEN COALESCE(r.publish_updated, false) AND EXCLUDED.state IN ('published', 'unpublished') \
         THEN CASE WHEN COALESCE(r.published, false) THEN 'published' ELSE 'unpublished' END \
         ELSE EXCLUDED.state END, \
     starttime = EXCLUDED.starttime, endtime = EXCLUDED.endtime, deleted_at = EXCLUDED.deleted_at, \
     protected = EXCLUDED.protected, \
     publish_updated = COALESCE(r.publish_updated, false) OR EXCLUDED.publish_updated \
     RETURNING r.id, r.record_id, r.meeting_id, r.name, COALESCE(r.published, false) AS published, \
     r.participants, r.state, r.starttime, r.endtime, r.deleted_at, COALESCE(r.protected, false) AS protected, \
     COALESCE(r.publish_updated, false) AS publish_updated, (r.xmax = 0) AS inserted), \
   m AS (INSERT INTO metadata (recording_id, key, value) \
     SELECT rec.id, k, v FROM rec CROSS JOIN UNNEST($12::varchar[], $13::varchar[]) WITH ORDINALITY AS t(k, v, n) \
     ORDER BY n \
     ON CONFLICT (recording_id, key) DO UPDATE SET value = EXCLUDED.value RETURNING id, key, value), \
   f AS (INSERT INTO playback_formats (recording_id, format, url, length, processing_time) \
     SELECT rec.id, fn, u, l, p FROM rec CROSS JOIN \
     UNNEST($14::varchar[], $15::varchar[], $16::int[], $17::int[]) WITH ORDINALITY AS t(fn, u, l, p, n) ORDER BY n \
     ON CONFLICT (recording_id, format) DO UPDATE SET url = EXCLUDED.url, \
     length = EXCLUDED.length, processing_time = EXCLUDED.processing_time \
     RETURNING id, format, url, length, processing_time), \
   replaced AS (DELETE FROM thumbnails WHERE playback_format_id IN (SELECT id FROM f)), \
   t AS (INSERT INTO thumbnails (playback_format_id, width, height, alt, url, sequence) \
     SELECT f.id, w, h, a, u, s FROM UNNEST($18::varchar[], $19::int[], $20::int[], $21::varchar[], \
     $22::varchar[], $23::int[]) WITH ORDINALITY AS x(fn, w, h, a, u, s, n) JOIN f ON f.format = x.fn ORDER BY n \
     RETURNING id, playback_format_id, width, height, alt, url, sequence), \
   linked AS (UPDATE callback_data SET recording_id = rec.id::integer, updated_at = (now() AT TIME ZONE 'UTC') \
     FROM rec WHERE callback_data.id = $24 AND rec.id <= 2147483647) \
   SELECT rec.*, \
     (SELECT json_agg(json_build_array(m.key, m.value) ORDER BY m.id) FROM m)::text AS metadata_json, \
     (SELECT json_agg(json_build_array(f.id, f.format, f.url, f.length, f.processing_time) \
     ORDER BY f.format, f.id) FROM f)::text AS formats_json, \
     (SELECT json_agg(json_build_array(t.playback_format_id, t.width, t.height, t.alt, t.url, t.sequence) \
     ORDER BY t.playback_format_id, t.sequence, t.id) FROM t)::text AS thumbnails_json \
   FROM rec";

/// The metadata as two columns, each key once (a later duplicate's value wins, in the first one's place).
fn metadata_columns(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    let mut keys: Vec<&str> = Vec::with_capacity(pairs.len());
    let mut values: Vec<&str> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        match keys.iter().position(|existing| existing == k) {
            Some(i) => values[i] = v,
            None => {
                keys.push(k);
                values.push(v);
            }
        }
    }
    (keys, values)
}

/// Upsert (key, value) on every recording of `ids`, in the given order (later duplicates of a key win).
async fn upsert_metadata(
    c: &mut PgConnection,
    ids: &[i64],
    pairs: &[(String, String)],
) -> PgResult<()> {
    if ids.is_empty() || pairs.is_empty() {
        return Ok(());
    }
    let (keys, values) = metadata_columns(pairs);
    sqlx::query(
        "INSERT INTO metadata (recording_id, key, value) \
         SELECT r, k, v FROM UNNEST($1::bigint[]) AS r \
         CROSS JOIN UNNEST($2::varchar[], $3::varchar[]) WITH ORDINALITY AS t(k, v, n) ORDER BY r, n \
         ON CONFLICT (recording_id, key) DO UPDATE SET value = EXCLUDED.value",
    )
    .bind(ids)
    .bind(keys)
    .bind(values)
    .execute(&mut *c)
    .await?;
    Ok(())
}

async fn update_metadata(
    c: &mut PgConnection,
    record_ids: &[String],
    upserts: &[(String, String)],
    deletes: &[String],
) -> PgResult<()> {
    let mut tx = c.begin().await?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM recordings WHERE record_id = ANY($1) ORDER BY id FOR UPDATE",
    )
    .bind(record_ids)
    .fetch_all(&mut *tx)
    .await?;
    upsert_metadata(&mut tx, &ids, upserts).await?;
    if !ids.is_empty() && !deletes.is_empty() {
        sqlx::query("DELETE FROM metadata WHERE recording_id = ANY($1) AND key = ANY($2)")
            .bind(&ids)
            .bind(deletes)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn mark_deleted(c: &mut PgConnection, record_id: &str) -> PgResult<()> {
    let mut tx = c.begin().await?;
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM recordings WHERE record_id = $1 FOR UPDATE")
            .bind(record_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(id) = id else {
        return Err(StoreError::NotFound(format!("recording {record_id}")).into());
    };
    sqlx::query(
        "DELETE FROM thumbnails WHERE playback_format_id IN (SELECT id FROM playback_formats WHERE recording_id = $1)",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM playback_formats WHERE recording_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM metadata WHERE recording_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE recordings SET state = 'deleted' WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Every `callback_data` row of `meeting_id`, oldest first: `(id, recording_id, attributes)`.
async fn callback_rows(
    c: &mut PgConnection,
    meeting_id: &str,
) -> PgResult<Vec<(i64, Option<i32>, CallbackAttributes)>> {
    let rows = sqlx::query(
        "SELECT id, recording_id, callback_attributes FROM callback_data WHERE meeting_id = $1 ORDER BY id",
    )
    .bind(meeting_id)
    .fetch_all(&mut *c)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let attrs = decode_callback_attributes(meeting_id, row.try_get("callback_attributes")?)?;
        out.push((row.try_get("id")?, row.try_get("recording_id")?, attrs));
    }
    Ok(out)
}

/// The callback data rows of each of `meeting_ids` (absent: none), each meeting's in id order, in one statement.
async fn callback_rows_of(
    c: &mut PgConnection,
    meeting_ids: &[&str],
) -> PgResult<HashMap<String, Vec<CallbackRow>>> {
    let rows = sqlx::query(
        "SELECT meeting_id, id, recording_id, callback_attributes FROM callback_data \
         WHERE meeting_id = ANY($1) ORDER BY id",
    )
    .bind(meeting_ids)
    .fetch_all(&mut *c)
    .await?;
    let mut out: HashMap<String, Vec<CallbackRow>> = HashMap::new();
    for row in rows {
        out.entry(row.try_get("meeting_id")?).or_default().push((
            row.try_get("id")?,
            row.try_get("recording_id")?,
            row.try_get("callback_attributes")?,
        ));
    }
    Ok(out)
}

/// See `PgStore::callback_urls_after`. A row with a URL names it in its YAML (`:recording_ready_url:`,
/// `:analytics_callback_url:`), so PostgreSQL leaves out the rows that cannot hold one.
async fn callback_urls_after(
    c: &mut PgConnection,
    after: i64,
    limit: i64,
) -> PgResult<(Option<i64>, Vec<(Option<String>, String)>)> {
    let rows = sqlx::query(
        "SELECT id, meeting_id, callback_attributes FROM callback_data \
         WHERE id > $1 AND callback_attributes LIKE '%url%' ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    let mut last = None;
    let mut holders = Vec::new();
    for row in rows {
        last = Some(row.try_get::<i64, _>("id")?);
        let Some(meeting_id) = row.try_get::<Option<String>, _>("meeting_id")? else {
            continue;
        };
        let text: Option<String> = row.try_get("callback_attributes")?;
        match decode_callback_attributes(&meeting_id, text) {
            Ok(attrs)
                if attrs.recording_ready_url.is_none()
                    && attrs.analytics_callback_url.is_none() => {}
            Ok(attrs) => holders.push((attrs.tenant_id, meeting_id)),
            // Unreadable, its tenant unknown: creates without a tenant go on reading it (and failing), as before.
            Err(_) => holders.push((None, meeting_id)),
        }
    }
    Ok((last, holders))
}

/// A `callback_attributes` value (YAML, or NULL: none) of a row of `meeting_id`.
fn decode_callback_attributes(
    meeting_id: &str,
    text: Option<String>,
) -> StoreResult<CallbackAttributes> {
    match text {
        Some(text) => callback_yaml::decode(&text).map_err(|e| {
            StoreError::Backend(format!("callback_data of meeting {meeting_id}: {e}"))
        }),
        None => Ok(CallbackAttributes::default()),
    }
}

async fn put_callback_data(c: &mut PgConnection, data: &CallbackData) -> PgResult<()> {
    let recording_id = data
        .recording_id
        .map(i32::try_from)
        .transpose()
        .map_err(|_| {
            StoreError::Conflict("callback_data.recording_id does not fit an integer".into())
        })?;
    let yaml = callback_yaml::encode(&CallbackAttributes {
        recording_ready_url: data.recording_ready_url.clone(),
        analytics_callback_url: data.analytics_callback_url.clone(),
        tenant_id: data.tenant_id.clone(),
        server_id: data.server_id.clone(),
    });
    let mut tx = c.begin().await?;
    // No unique index on meeting_id (the original validates in the app): serialise writers of one meeting.
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(CALLBACK_LOCK_SPACE)
        .bind(&data.meeting_id)
        .execute(&mut *tx)
        .await?;
    let existing = callback_rows(&mut tx, &data.meeting_id)
        .await?
        .into_iter()
        .find(|(_, _, attrs)| attrs.tenant_id == data.tenant_id)
        .map(|(id, _, _)| id);
    if let Some(id) = existing {
        sqlx::query(
            "UPDATE callback_data SET recording_id = $2, callback_attributes = $3, \
             updated_at = (now() AT TIME ZONE 'UTC') WHERE id = $1",
        )
        .bind(id)
        .bind(recording_id)
        .bind(&yaml)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query(
            "INSERT INTO callback_data (meeting_id, recording_id, callback_attributes, created_at, updated_at) \
             VALUES ($1, $2, $3, (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC'))",
        )
        .bind(&data.meeting_id)
        .bind(recording_id)
        .bind(&yaml)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
