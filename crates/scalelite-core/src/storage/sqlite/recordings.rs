//! `RecordingStore`: recordings with their metadata, playback formats and thumbnails, and callback data.
//!
//! Listing a page of recordings takes four queries whatever its size: the page, then the metadata, formats and
//! thumbnails of the whole page, inside one read transaction so they agree with each other.

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};

use crate::domain::{CallbackData, PlaybackFormat, Recording, RecordingFilter, Thumbnail};
use crate::storage::sqlite::direct::first_row;
use crate::storage::sqlite::{
    SqliteStore, backend, from_ms, glob_prefix, json_list, now_ms, to_ms,
};
use crate::storage::{
    CallbackUrlsClean, CallbackUrlsMark, RecordingLock, RecordingStore, StoreError, StoreResult,
    has_callback_urls, without_callback_urls,
};

const RECORDING_COLUMNS: &str = "r.id, r.record_id, r.meeting_id, r.name, r.published, r.participants, r.state, \
     r.starttime, r.endtime, r.deleted_at, r.protected, r.publish_updated";

impl RecordingStore for SqliteStore {
    async fn upsert_recording(&self, recording: Recording) -> StoreResult<Recording> {
        let mut tx = self.begin_write().await?;
        let stored = upsert_in(&mut tx, &recording).await?;
        tx.commit().await.map_err(backend)?;
        Ok(stored)
    }

    async fn get_recording(&self, record_id: &str) -> StoreResult<Recording> {
        let filter = RecordingFilter {
            record_ids: Some(vec![record_id.to_owned()]),
            ..RecordingFilter::default()
        };
        self.find_recordings(&filter)
            .await?
            .pop()
            .ok_or_else(|| recording_not_found(record_id))
    }

    async fn find_recordings(&self, filter: &RecordingFilter) -> StoreResult<Vec<Recording>> {
        // A read transaction: the four queries see one snapshot.
        let mut tx = self.reader.begin().await.map_err(backend)?;
        let recordings = load_recordings(&mut tx, filter).await?;
        tx.commit().await.map_err(backend)?;
        Ok(recordings)
    }

    async fn set_published(&self, record_id: &str, published: bool) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await.map_err(backend)?;
        set_published(&mut conn, record_id, published).await
    }

    async fn set_protected(&self, record_id: &str, protected: bool) -> StoreResult<()> {
        let updated = sqlx::query("UPDATE recordings SET protected = ? WHERE record_id = ?")
            .bind(protected)
            .bind(record_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?
            .rows_affected();
        if updated == 0 {
            return Err(recording_not_found(record_id));
        }
        Ok(())
    }

    async fn update_metadata(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
    ) -> StoreResult<()> {
        if record_ids.is_empty() || (upserts.is_empty() && deletes.is_empty()) {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        change_metadata(&mut tx, record_ids, upserts, deletes).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_recordings(
        &self,
        record_ids: &[String],
        upserts: &[(String, String)],
        deletes: &[String],
        protect: Option<bool>,
    ) -> StoreResult<()> {
        if record_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        change_metadata(&mut tx, record_ids, upserts, deletes).await?;
        if let Some(protect) = protect {
            sqlx::query(
                "UPDATE recordings SET protected = ? WHERE record_id IN (SELECT value FROM json_each(?))",
            )
            .bind(protect)
            .bind(json_list(record_ids)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn lock_recording(&self, record_id: &str) -> StoreResult<RecordingLock> {
        // BEGIN IMMEDIATE takes the database write lock before the read: nobody changes the row until commit.
        let mut tx = self.begin_write().await?;
        let Some(recording) = load_one(&mut tx, record_id).await? else {
            return Err(recording_not_found(record_id));
        };
        let tx = RecordingTx {
            tx,
            record_id: record_id.to_owned(),
        };
        Ok(RecordingLock::embedded(recording, tx))
    }

    async fn mark_recording_deleted(&self, record_id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        mark_deleted(&mut tx, record_id).await?;
        tx.commit().await.map_err(backend)
    }

    async fn get_callback_data(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<Option<CallbackData>> {
        // On the calling thread (`direct`): every create without callback URLs makes this read.
        self.direct.read(|connection| {
            first_row(
                connection,
                "SELECT meeting_id, server_id, recording_id, recording_ready_url, analytics_callback_url \
                 FROM callback_data WHERE meeting_id = ? AND tenant_id = ?",
                (meeting_id, tenant_id.unwrap_or_default()),
                |row| {
                    Ok(CallbackData {
                        meeting_id: row.get("meeting_id").map_err(backend)?,
                        tenant_id: tenant_id.map(str::to_owned),
                        server_id: row.get("server_id").map_err(backend)?,
                        recording_id: row.get("recording_id").map_err(backend)?,
                        recording_ready_url: row.get("recording_ready_url").map_err(backend)?,
                        analytics_callback_url: row.get("analytics_callback_url").map_err(backend)?,
                    })
                },
            )
        })
    }

    async fn put_callback_data(&self, data: CallbackData) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO callback_data (meeting_id, tenant_id, server_id, recording_id, recording_ready_url, \
             analytics_callback_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (meeting_id, tenant_id) DO UPDATE SET server_id = excluded.server_id, \
             recording_id = excluded.recording_id, recording_ready_url = excluded.recording_ready_url, \
             analytics_callback_url = excluded.analytics_callback_url, updated_at = excluded.updated_at",
        )
        .bind(&data.meeting_id)
        .bind(data.tenant_id.as_deref().unwrap_or_default())
        .bind(&data.server_id)
        .bind(data.recording_id)
        .bind(&data.recording_ready_url)
        .bind(&data.analytics_callback_url)
        .bind(now)
        .bind(now)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clear_callback_urls(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
        server_id: &str,
        mark: &CallbackUrlsMark,
    ) -> StoreResult<Option<CallbackUrlsClean>> {
        // `meeting_for_create` read it with the meeting: found without URLs, nothing to clear.
        if mark.known_clean() {
            return Ok(None);
        }
        // A read first: most creates find nothing to clear, and a read does not wait for the only writer.
        let stale = self
            .get_callback_data(tenant_id, meeting_id)
            .await?
            .is_some_and(|data| has_callback_urls(&data));
        if stale {
            self.put_callback_data(without_callback_urls(tenant_id, meeting_id, server_id))
                .await?;
        }
        // Nothing to mark: the next `meeting_for_create` reads the data again.
        Ok(None)
    }

    async fn mark_callback_urls_clean(&self, _clean: &CallbackUrlsClean) -> StoreResult<()> {
        Ok(())
    }
}

/// The embedded half of a `RecordingLock`: a `BEGIN IMMEDIATE` transaction.
pub(crate) struct RecordingTx {
    tx: Transaction<'static, Sqlite>,
    record_id: String,
}

impl RecordingTx {
    pub(crate) async fn set_published(mut self, published: bool) -> StoreResult<()> {
        set_published(&mut self.tx, &self.record_id, published).await?;
        self.tx.commit().await.map_err(backend)
    }

    pub(crate) async fn mark_deleted(mut self) -> StoreResult<()> {
        mark_deleted(&mut self.tx, &self.record_id).await?;
        self.tx.commit().await.map_err(backend)
    }

    pub(crate) async fn upsert(&mut self, recording: &Recording) -> StoreResult<Recording> {
        upsert_in(&mut self.tx, recording).await
    }

    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(backend)
    }

    pub(crate) async fn release(self) {
        if let Err(e) = self.tx.rollback().await {
            tracing::warn!(error.message = %e, "could not roll back a recording lock");
        }
    }
}

async fn set_published(
    conn: &mut SqliteConnection,
    record_id: &str,
    published: bool,
) -> StoreResult<()> {
    let state = if published {
        "published"
    } else {
        "unpublished"
    };
    let updated = sqlx::query(
        "UPDATE recordings SET published = ?, publish_updated = 1, state = ? WHERE record_id = ?",
    )
    .bind(published)
    .bind(state)
    .bind(record_id)
    .execute(&mut *conn)
    .await
    .map_err(backend)?
    .rows_affected();
    if updated == 0 {
        return Err(recording_not_found(record_id));
    }
    Ok(())
}

async fn mark_deleted(conn: &mut SqliteConnection, record_id: &str) -> StoreResult<()> {
    let id: Option<i64> = sqlx::query_scalar(
        "UPDATE recordings SET state = 'deleted' WHERE record_id = ? RETURNING id",
    )
    .bind(record_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(backend)?;
    let Some(id) = id else {
        return Err(recording_not_found(record_id));
    };
    for sql in [
        "DELETE FROM thumbnails WHERE playback_format_id IN \
         (SELECT id FROM playback_formats WHERE recording_id = ?)",
        "DELETE FROM playback_formats WHERE recording_id = ?",
        "DELETE FROM metadata WHERE recording_id = ?",
    ] {
        sqlx::query(sql)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// A playback format as `upsert_in` passes it to SQLite (one JSON array for all of them).
#[derive(serde::Serialize)]
struct FormatRow<'a> {
    format: &'a str,
    url: &'a str,
    length: Option<i32>,
    processing_time: Option<i32>,
}

/// A thumbnail as `upsert_in` passes it to SQLite, with the name of its format.
#[derive(serde::Serialize)]
struct ThumbnailRow<'a> {
    format: &'a str,
    width: Option<i32>,
    height: Option<i32>,
    alt: Option<&'a str>,
    url: &'a str,
    sequence: i32,
}

/// The importer's conditional upsert (see `RecordingStore::upsert_recording`) on `conn`, inside the caller's
/// transaction.
async fn upsert_in(conn: &mut SqliteConnection, recording: &Recording) -> StoreResult<Recording> {
    let id: i64 = sqlx::query_scalar(
        // Conditional on the stored row (see `RecordingStore::upsert_recording`): once published or
        // unpublished through the API, the stored flag wins and the import never resets it.
        "INSERT INTO recordings (record_id, meeting_id, name, published, participants, state, starttime, \
         endtime, deleted_at, protected, publish_updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (record_id) DO UPDATE SET meeting_id = excluded.meeting_id, name = excluded.name, \
         published = CASE WHEN recordings.publish_updated THEN recordings.published \
             ELSE excluded.published END, \
         participants = excluded.participants, \
         state = CASE WHEN recordings.publish_updated AND excluded.state IN ('published', 'unpublished') \
             THEN CASE WHEN recordings.published THEN 'published' ELSE 'unpublished' END \
             ELSE excluded.state END, \
         starttime = excluded.starttime, endtime = excluded.endtime, deleted_at = excluded.deleted_at, \
         protected = excluded.protected, \
         publish_updated = recordings.publish_updated OR excluded.publish_updated \
         RETURNING id",
    )
    .bind(&recording.record_id)
    .bind(&recording.meeting_id)
    .bind(&recording.name)
    .bind(recording.published)
    .bind(recording.participants)
    .bind(&recording.state)
    .bind(to_ms(recording.starttime))
    .bind(to_ms(recording.endtime))
    .bind(to_ms(recording.deleted_at))
    .bind(recording.protected)
    .bind(recording.publish_updated)
    .fetch_one(&mut *conn)
    .await
    .map_err(backend)?;

    // One statement per table rather than one per row: on SQLite every statement is a trip to sqlx's worker
    // thread, and the rows of a recording (metadata, formats, thumbnails) made most of an import's statements.
    if !recording.metadata.is_empty() {
        // In the given order, so that a later duplicate of a key wins.
        sqlx::query(
            "INSERT INTO metadata (recording_id, key, value) \
             SELECT ?, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') FROM json_each(?) j \
             WHERE true ORDER BY j.key \
             ON CONFLICT (recording_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(id)
        .bind(json_list(&recording.metadata)?)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }

    if !recording.playback_formats.is_empty() {
        let formats: Vec<FormatRow<'_>> = recording
            .playback_formats
            .iter()
            .map(|f| FormatRow {
                format: &f.format,
                url: &f.url,
                length: f.length,
                processing_time: f.processing_time,
            })
            .collect();
        let formats = json_list(&formats)?;
        sqlx::query(
            "INSERT INTO playback_formats (recording_id, format, url, length, processing_time) \
             SELECT ?, json_extract(j.value, '$.format'), json_extract(j.value, '$.url'), \
             json_extract(j.value, '$.length'), json_extract(j.value, '$.processing_time') FROM json_each(?) j \
             WHERE true ORDER BY j.key \
             ON CONFLICT (recording_id, format) DO UPDATE SET url = excluded.url, \
             length = excluded.length, processing_time = excluded.processing_time",
        )
        .bind(id)
        .bind(&formats)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        // The imported formats' thumbnails are replaced; other formats of the recording keep theirs.
        sqlx::query(
            "DELETE FROM thumbnails WHERE playback_format_id IN (SELECT id FROM playback_formats \
             WHERE recording_id = ? AND format IN (SELECT json_extract(value, '$.format') FROM json_each(?)))",
        )
        .bind(id)
        .bind(&formats)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
        let thumbnails: Vec<ThumbnailRow<'_>> = recording
            .playback_formats
            .iter()
            .flat_map(|f| {
                f.thumbnails.iter().map(|t| ThumbnailRow {
                    format: &f.format,
                    width: t.width,
                    height: t.height,
                    alt: t.alt.as_deref(),
                    url: &t.url,
                    sequence: t.sequence,
                })
            })
            .collect();
        if !thumbnails.is_empty() {
            sqlx::query(
                "INSERT INTO thumbnails (playback_format_id, width, height, alt, url, sequence) \
                 SELECT f.id, json_extract(j.value, '$.width'), json_extract(j.value, '$.height'), \
                 json_extract(j.value, '$.alt'), json_extract(j.value, '$.url'), \
                 json_extract(j.value, '$.sequence') \
                 FROM json_each(?) j JOIN playback_formats f \
                 ON f.recording_id = ? AND f.format = json_extract(j.value, '$.format') ORDER BY j.key",
            )
            .bind(json_list(&thumbnails)?)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        }
    }

    // The original's importer links the meeting's callback data to the recording it imported: here the callback
    // data the recording's tenant left.
    sqlx::query(
        "UPDATE callback_data SET recording_id = ?, updated_at = ? WHERE meeting_id = ? AND tenant_id = ?",
    )
    .bind(id)
    .bind(now_ms())
    .bind(&recording.meeting_id)
    .bind(recording_tenant(recording).unwrap_or_default())
        .execute(&mut *conn)
        .await
        .map_err(backend)?;

    load_one(conn, &recording.record_id)
        .await?
        .ok_or_else(|| recording_not_found(&recording.record_id))
}

/// Upsert `upserts` and delete `deletes` on every recording of `record_ids`.
async fn change_metadata(
    conn: &mut SqliteConnection,
    record_ids: &[String],
    upserts: &[(String, String)],
    deletes: &[String],
) -> StoreResult<()> {
    let ids = json_list(record_ids)?;
    for (key, value) in upserts {
        // `WHERE` is required here: it keeps SQLite from reading `ON CONFLICT` as part of a join.
        sqlx::query(
            "INSERT INTO metadata (recording_id, key, value) \
             SELECT id, ?, ? FROM recordings WHERE record_id IN (SELECT value FROM json_each(?)) \
             ON CONFLICT (recording_id, key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    if !deletes.is_empty() {
        sqlx::query(
            "DELETE FROM metadata WHERE key IN (SELECT value FROM json_each(?)) AND recording_id IN \
             (SELECT id FROM recordings WHERE record_id IN (SELECT value FROM json_each(?)))",
        )
        .bind(json_list(deletes)?)
        .bind(&ids)
        .execute(&mut *conn)
        .await
        .map_err(backend)?;
    }
    Ok(())
}

/// One recording with everything attached, or `None`.
async fn load_one(conn: &mut SqliteConnection, record_id: &str) -> StoreResult<Option<Recording>> {
    let filter = RecordingFilter {
        record_ids: Some(vec![record_id.to_owned()]),
        ..RecordingFilter::default()
    };
    Ok(load_recordings(conn, &filter).await?.pop())
}

/// The recordings matching `filter` with everything attached, in four queries on `conn`.
async fn load_recordings(
    conn: &mut SqliteConnection,
    filter: &RecordingFilter,
) -> StoreResult<Vec<Recording>> {
    let mut page = page_query(filter)?;
    let rows = page.build().fetch_all(&mut *conn).await.map_err(backend)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut recordings = Vec::with_capacity(rows.len());
    let mut row_ids = Vec::with_capacity(rows.len());
    for row in &rows {
        let (id, recording) = recording_from_row(row)?;
        row_ids.push(id);
        recordings.push(recording);
    }
    let row_ids_json = json_list(&row_ids)?;

    let mut metadata: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    let rows: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT recording_id, key, value FROM metadata \
         WHERE recording_id IN (SELECT value FROM json_each(?)) ORDER BY recording_id, id",
    )
    .bind(&row_ids_json)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    for (recording_id, key, value) in rows {
        metadata.entry(recording_id).or_default().push((key, value));
    }

    let format_rows = sqlx::query(
        "SELECT id, recording_id, format, url, length, processing_time FROM playback_formats \
         WHERE recording_id IN (SELECT value FROM json_each(?)) ORDER BY recording_id, format",
    )
    .bind(&row_ids_json)
    .fetch_all(&mut *conn)
    .await
    .map_err(backend)?;
    let mut format_ids = Vec::with_capacity(format_rows.len());
    let mut formats: Vec<(i64, i64, PlaybackFormat)> = Vec::with_capacity(format_rows.len());
    for row in &format_rows {
        let format_id: i64 = row.try_get("id").map_err(backend)?;
        let recording_id: i64 = row.try_get("recording_id").map_err(backend)?;
        format_ids.push(format_id);
        formats.push((
            format_id,
            recording_id,
            PlaybackFormat {
                format: row.try_get("format").map_err(backend)?,
                url: row.try_get("url").map_err(backend)?,
                length: row.try_get("length").map_err(backend)?,
                processing_time: row.try_get("processing_time").map_err(backend)?,
                thumbnails: Vec::new(),
            },
        ));
    }

    let mut thumbnails: HashMap<i64, Vec<Thumbnail>> = HashMap::new();
    if !format_ids.is_empty() {
        let rows = sqlx::query(
            "SELECT playback_format_id, width, height, alt, url, sequence FROM thumbnails \
             WHERE playback_format_id IN (SELECT value FROM json_each(?)) \
             ORDER BY playback_format_id, sequence, id",
        )
        .bind(json_list(&format_ids)?)
        .fetch_all(&mut *conn)
        .await
        .map_err(backend)?;
        for row in &rows {
            let format_id: i64 = row.try_get("playback_format_id").map_err(backend)?;
            thumbnails.entry(format_id).or_default().push(Thumbnail {
                width: row.try_get("width").map_err(backend)?,
                height: row.try_get("height").map_err(backend)?,
                alt: row.try_get("alt").map_err(backend)?,
                url: row.try_get("url").map_err(backend)?,
                sequence: row.try_get("sequence").map_err(backend)?,
            });
        }
    }

    let mut formats_by_recording: HashMap<i64, Vec<PlaybackFormat>> = HashMap::new();
    for (format_id, recording_id, mut format) in formats {
        format.thumbnails = thumbnails.remove(&format_id).unwrap_or_default();
        formats_by_recording
            .entry(recording_id)
            .or_default()
            .push(format);
    }
    for (id, recording) in row_ids.iter().zip(recordings.iter_mut()) {
        recording.metadata = metadata.remove(id).unwrap_or_default();
        recording.playback_formats = formats_by_recording.remove(id).unwrap_or_default();
    }
    Ok(recordings)
}

/// The page query: every condition of `filter` ANDed, newest first (`starttime` NULLs first, as PostgreSQL
/// sorts them descending), then `offset`/`limit`. A condition given an empty list matches nothing.
fn page_query(filter: &RecordingFilter) -> StoreResult<QueryBuilder<'static, Sqlite>> {
    let mut q = QueryBuilder::new(format!(
        "SELECT {RECORDING_COLUMNS} FROM recordings r WHERE 1 = 1"
    ));
    if let Some(meeting_ids) = &filter.meeting_ids {
        q.push(" AND r.meeting_id IN (SELECT value FROM json_each(")
            .push_bind(json_list(meeting_ids)?)
            .push("))");
    }
    if let Some(record_ids) = &filter.record_ids {
        q.push(" AND r.record_id IN (SELECT value FROM json_each(")
            .push_bind(json_list(record_ids)?)
            .push("))");
    }
    if let Some(states) = &filter.states {
        q.push(" AND r.state IN (SELECT value FROM json_each(")
            .push_bind(json_list(states)?)
            .push("))");
    }
    if let Some(prefixes) = &filter.record_id_prefixes {
        if prefixes.is_empty() {
            q.push(" AND 0");
        } else {
            // GLOB is case-sensitive (LIKE is not, for ASCII) and can use the record_id index.
            q.push(" AND (");
            for (i, prefix) in prefixes.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("r.record_id GLOB ").push_bind(glob_prefix(prefix));
            }
            q.push(")");
        }
    }
    if let Some(pairs) = &filter.metadata_any {
        if pairs.is_empty() {
            q.push(" AND 0");
        } else {
            q.push(" AND EXISTS (SELECT 1 FROM metadata m WHERE m.recording_id = r.id AND (");
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    q.push(" OR ");
                }
                q.push("(m.key = ")
                    .push_bind(key.clone())
                    .push(" AND m.value = ")
                    .push_bind(value.clone())
                    .push(")");
            }
            q.push("))");
        }
    }
    if let Some(tenant_id) = &filter.tenant_id {
        q.push(
            " AND EXISTS (SELECT 1 FROM metadata t WHERE t.recording_id = r.id AND t.key = 'tenant-id' \
             AND t.value = ",
        )
        .push_bind(tenant_id.clone())
        .push(")");
    }
    q.push(" ORDER BY r.starttime DESC NULLS FIRST, r.id DESC");
    if filter.limit.is_some() || filter.offset.is_some() {
        let limit = filter
            .limit
            .map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
        let offset = filter
            .offset
            .map_or(0, |o| i64::try_from(o).unwrap_or(i64::MAX));
        q.push(" LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset);
    }
    Ok(q)
}

fn recording_not_found(record_id: &str) -> StoreError {
    StoreError::NotFound(format!("recording {record_id}"))
}

/// A recording row (without metadata and formats) and its row id.
fn recording_from_row(row: &SqliteRow) -> StoreResult<(i64, Recording)> {
    let recording = Recording {
        record_id: row.try_get("record_id").map_err(backend)?,
        meeting_id: row.try_get("meeting_id").map_err(backend)?,
        name: row.try_get("name").map_err(backend)?,
        published: row.try_get("published").map_err(backend)?,
        participants: row.try_get("participants").map_err(backend)?,
        state: row.try_get("state").map_err(backend)?,
        starttime: from_ms(row.try_get("starttime").map_err(backend)?),
        endtime: from_ms(row.try_get("endtime").map_err(backend)?),
        deleted_at: from_ms(row.try_get("deleted_at").map_err(backend)?),
        protected: row.try_get("protected").map_err(backend)?,
        publish_updated: row.try_get("publish_updated").map_err(backend)?,
        metadata: Vec::new(),
        playback_formats: Vec::new(),
    };
    Ok((row.try_get("id").map_err(backend)?, recording))
}

/// The recording's `tenant-id` metadata, when set.
fn recording_tenant(recording: &Recording) -> Option<&str> {
    recording
        .metadata
        .iter()
        .find(|(key, value)| key == "tenant-id" && !value.is_empty())
        .map(|(_, value)| value.as_str())
}
