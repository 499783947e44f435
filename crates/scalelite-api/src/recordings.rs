//! The recording calls: getRecordings, publishRecordings, updateRecordings, deleteRecordings, answered from the
//! store and the recording directories, never from a BBB server.
//!
//! Fixes over the original: the tenant condition of getRecordings is independent of the `meta_` filters, `meta_`
//! keys are normalised alike by getRecordings and updateRecordings, `offset` and `limit` paginate (BBB 2.6+),
//! `updateRecordings` applies metadata and `protect=` to every listed recording in one transaction,
//! `deleteRecordings` also removes the unpublished copy (also in S3 mode, `S3_RECORDING`: both prefixes), and
//! publishRecordings works in S3 mode (the original runs its file moves there too, and fails).
//!
//! File moves are atomic per recording and happen with the recording's row locked: the row is read afresh under
//! the lock, the files move, then the row is updated and the lock released; if either step fails, the files go
//! back (see `files`). Two concurrent publish/unpublish/delete calls on one recording therefore run one after the
//! other, each seeing what the other did. In S3 mode the objects move between the `published/` and `unpublished/`
//! prefixes (a server-side copy, then a delete, object by object), also with the row locked; a move cut short is
//! finished by the same call made again, since only the objects still under the old prefix are moved.

mod files;

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use rand::Rng;
use scalelite_core::bbb::params::{Params, required, split_list};
use scalelite_core::bbb::xml::{self, Element, RecordingsXmlOptions};
use scalelite_core::domain::{Recording, RecordingFilter};
use scalelite_core::s3::{MAX_COPY_SIZE, S3Bucket, S3Error, content_type_for, recording_prefix};
use scalelite_core::storage::{MiscStore, RecordingStore};

use crate::error::{ApiError, Result, xml_response};
use crate::playback::encode_segment;
use crate::request::BbbRequest;
use crate::state::AppState;

/// The message of publishRecordings' filesystem and storage failures.
const PUBLISH_FAILED: &str = "Unable to publish/unpublish recording.";
/// The message of deleteRecordings' filesystem and storage failures.
const DELETE_FAILED: &str = "Unable to delete recording.";
/// Largest `limit` a getRecordings page may have (BBB: "between 1 and 100").
pub const MAX_LIMIT: u64 = 100;

fn ok_xml(root: &Element) -> Response {
    xml_response(StatusCode::OK, root)
}

/// The states getRecordings shows when `state` is not given, and the only ones publishRecordings touches.
fn published_or_unpublished() -> Vec<String> {
    vec!["published".to_owned(), "unpublished".to_owned()]
}

/// `getRecordings`: matching recordings, newest first, with the original's XML. Protected recordings get a fresh
/// one-time token per format in place of their playback URL.
pub async fn get_recordings(state: &AppState, req: BbbRequest) -> Result<Response> {
    let tenant_id = req.tenant.as_ref().map(|t| t.id.as_str());
    let filter = get_filter(
        &req.params,
        tenant_id,
        state.settings.get_recordings_filtered,
    )?;
    let recordings = state.store.find_recordings(&filter).await?;

    let tokens = mint_tokens(state, &recordings).await?;
    let options = RecordingsXmlOptions {
        show_protected: state.settings.protected_recordings,
        url_prefix: req.url_prefix.clone(),
    };
    let root = xml::recordings(&recordings, &options, |recording, format| {
        match tokens.get(&(recording.record_id.clone(), format.format.clone())) {
            Some(token) => {
                protected_url(&req.url_prefix, &recording.record_id, &format.format, token)
            }
            None => format!("{}{}", req.url_prefix, format.url),
        }
    });
    Ok(ok_xml(&root))
}

/// How many one-time tokens are stored at once (a page with many protected recordings needs one per format).
const TOKEN_WRITES_IN_FLIGHT: usize = 16;

/// A fresh one-time token for every format of every protected recording, stored for
/// `PROTECTED_RECORDINGS_TOKEN_TIMEOUT`; keyed by (record id, format).
async fn mint_tokens(
    state: &AppState,
    recordings: &[Recording],
) -> Result<HashMap<(String, String), String>> {
    let wanted: Vec<(String, String)> = recordings
        .iter()
        .filter(|r| r.protected)
        .flat_map(|r| {
            r.playback_formats
                .iter()
                .map(|f| (r.record_id.clone(), f.format.clone()))
        })
        .collect();
    let mut tokens = HashMap::with_capacity(wanted.len());
    for chunk in wanted.chunks(TOKEN_WRITES_IN_FLIGHT) {
        let mut writes = tokio::task::JoinSet::new();
        for (record_id, format) in chunk.iter().cloned() {
            let store = state.store.clone();
            let ttl = state.settings.protected_token_ttl;
            writes.spawn(async move {
                let token = new_token();
                store
                    .put_playback_token(&token, &record_id, &format, ttl)
                    .await
                    .map(|()| ((record_id, format), token))
            });
        }
        while let Some(written) = writes.join_next().await {
            let (key, token) = written.map_err(|e| {
                tracing::error!(error.message = %e, "storing a playback token failed");
                ApiError::Internal("Unable to create the playback links.".to_owned())
            })??;
            tokens.insert(key, token);
        }
    }
    Ok(tokens)
}

/// `getRecordings` with `RECORDING_DISABLED=true`: always no recordings.
pub fn get_recordings_disabled() -> Response {
    ok_xml(&xml::no_recordings())
}

/// The publish, update and delete calls with `RECORDING_DISABLED=true`: always `notFound`.
pub fn recordings_disabled() -> ApiError {
    ApiError::RecordingsNotFound
}

/// `publishRecordings`: move each listed recording whose `published` differs between the publish and unpublish
/// directories, then record the change. Only recordings in state published/unpublished (of the tenant) count.
/// Each change runs with the recording's row locked (read afresh under the lock), and in a task of its own so a
/// client that hangs up cannot stop it between the file moves and the row update.
pub async fn publish_recordings(state: &AppState, req: BbbRequest) -> Result<Response> {
    let record_id = required(&req.params, "recordID").ok_or(ApiError::MissingRecordId)?;
    let publish = required(&req.params, "publish").ok_or(ApiError::MissingPublish)?;
    let publish = publish.eq_ignore_ascii_case("true");
    let filter = RecordingFilter {
        record_ids: Some(split_list(record_id)),
        states: Some(published_or_unpublished()),
        tenant_id: req.tenant.as_ref().map(|t| t.id.clone()),
        ..RecordingFilter::default()
    };
    let recordings = state.store.find_recordings(&filter).await?;
    if recordings.is_empty() {
        return Err(ApiError::RecordingsNotFound);
    }
    for recording in recordings.iter().filter(|r| r.published != publish) {
        let (task_state, record_id) = (state.clone(), recording.record_id.clone());
        let changed =
            tokio::spawn(async move { set_published(&task_state, &record_id, publish).await })
                .await
                .map_err(ChangeError::from)
                .and_then(|changed| changed);
        changed.map_err(|e| {
            tracing::warn!(
                record_id = %recording.record_id,
                publish,
                error.message = %e,
                "could not publish/unpublish the recording"
            );
            ApiError::Internal(PUBLISH_FAILED.to_owned())
        })?;
    }
    Ok(ok_xml(&xml::published(publish)))
}

/// `updateRecordings`: upsert or delete `meta_` keys (lower-cased) and apply `protect` on every listed recording,
/// but only when every listed id is a recording of this tenant; otherwise `updated=false` and nothing changes.
pub async fn update_recordings(state: &AppState, req: BbbRequest) -> Result<Response> {
    let record_id = required(&req.params, "recordID").ok_or(ApiError::MissingRecordId)?;
    let ids = split_list(record_id);
    let filter = RecordingFilter {
        record_ids: Some(ids.clone()),
        tenant_id: req.tenant.as_ref().map(|t| t.id.clone()),
        ..RecordingFilter::default()
    };
    let owned = state.store.find_recordings(&filter).await?;
    if owned.len() != ids.len() {
        return Ok(ok_xml(&xml::updated(false)));
    }
    let changes = MetadataChanges::from_params(&req.params);
    let protect = required(&req.params, "protect").map(rails_boolean);
    if changes.is_empty() && protect.is_none() {
        return Ok(ok_xml(&xml::updated(false)));
    }
    // Metadata and protection in one transaction: all of it or nothing.
    state
        .store
        .update_recordings(&ids, &changes.upserts, &changes.deletes, protect)
        .await?;
    Ok(ok_xml(&xml::updated(true)))
}

/// `deleteRecordings`: remove every copy of the files (published and unpublished), then mark each recording
/// deleted (metadata and formats dropped, the row kept). Any state counts.
pub async fn delete_recordings(state: &AppState, req: BbbRequest) -> Result<Response> {
    let record_id = required(&req.params, "recordID").ok_or(ApiError::MissingRecordId)?;
    let filter = RecordingFilter {
        record_ids: Some(split_list(record_id)),
        tenant_id: req.tenant.as_ref().map(|t| t.id.clone()),
        ..RecordingFilter::default()
    };
    let recordings = state.store.find_recordings(&filter).await?;
    if recordings.is_empty() {
        return Err(ApiError::RecordingsNotFound);
    }
    for recording in &recordings {
        let (task_state, task_recording) = (state.clone(), recording.clone());
        let deleted =
            tokio::spawn(async move { delete_recording(&task_state, &task_recording).await })
                .await
                .map_err(ChangeError::from)
                .and_then(|deleted| deleted);
        deleted.map_err(|e| {
            tracing::warn!(
                record_id = %recording.record_id,
                error.message = %e,
                "could not delete the recording"
            );
            ApiError::Internal(DELETE_FAILED.to_owned())
        })?;
    }
    Ok(ok_xml(&xml::deleted()))
}

/// Why moving a recording's files or updating its row failed (logged, answered with the call's generic message).
#[derive(Debug, thiserror::Error)]
enum ChangeError {
    #[error(transparent)]
    Files(#[from] files::FilesError),
    #[error(transparent)]
    Store(#[from] scalelite_core::storage::StoreError),
    #[error("file task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error("no objects of format {0} under either prefix")]
    NoObjects(String),
}

/// With the row locked: if the recording (read afresh) still needs the change, move the files of every format to
/// the other directory, then update the row; put the files back if the row cannot be updated.
async fn set_published(
    state: &AppState,
    record_id: &str,
    publish: bool,
) -> Result<(), ChangeError> {
    let lock = state.store.lock_recording(record_id).await?;
    let recording = lock.recording();
    let still_wanted = recording.published != publish
        && matches!(
            recording.state.as_deref(),
            Some("published" | "unpublished")
        );
    if !still_wanted {
        // Another call changed it meanwhile: nothing left to do.
        lock.release().await;
        return Ok(());
    }
    if let Some(bucket) = &state.settings.s3 {
        return set_published_s3(bucket, lock, publish).await;
    }
    let settings = &state.settings;
    let (from, to) = if publish {
        (
            settings.recording_unpublish_dir.clone(),
            settings.recording_publish_dir.clone(),
        )
    } else {
        (
            settings.recording_publish_dir.clone(),
            settings.recording_unpublish_dir.clone(),
        )
    };
    let id = record_id.to_owned();
    let formats: Vec<String> = recording
        .playback_formats
        .iter()
        .map(|f| f.format.clone())
        .collect();
    let moved =
        tokio::task::spawn_blocking(move || files::move_formats(&from, &to, &formats, &id)).await;
    let journal = match moved {
        Ok(Ok(journal)) => journal,
        Ok(Err(e)) => {
            lock.release().await;
            return Err(e.into());
        }
        Err(e) => {
            lock.release().await;
            return Err(e.into());
        }
    };
    finish(journal, lock.set_published(publish).await).await
}

/// S3 mode, with the row locked: move the objects of every format to the other prefix, then update the row; move
/// them back if the row cannot be updated.
async fn set_published_s3(
    bucket: &S3Bucket,
    lock: scalelite_core::storage::RecordingLock,
    publish: bool,
) -> Result<(), ChangeError> {
    let recording = lock.recording().clone();
    if let Err(e) = move_objects(bucket, &recording, publish).await {
        lock.release().await;
        return Err(e);
    }
    match lock.set_published(publish).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(back) = move_objects(bucket, &recording, !publish).await {
                tracing::error!(
                    record_id = %recording.record_id,
                    error.message = %back,
                    "could not move the objects back after the row update failed"
                );
            }
            Err(e.into())
        }
    }
}

/// Move the objects of every playback format of `recording` to the `published/` prefix (`to_published`) or the
/// `unpublished/` one: each object still under the other prefix is copied on the server, then deleted. First
/// checks every format, so a format with objects under neither prefix fails the call before anything moves (as a
/// missing directory does in filesystem mode). A format with nothing left under the old prefix is already in place.
async fn move_objects(
    bucket: &S3Bucket,
    recording: &Recording,
    to_published: bool,
) -> Result<(), ChangeError> {
    let (client, name) = (&bucket.client, bucket.bucket.as_str());
    let mut moves = Vec::new();
    for format in &recording.playback_formats {
        let from = recording_prefix(!to_published, &format.format, &recording.record_id);
        let to = recording_prefix(to_published, &format.format, &recording.record_id);
        let objects = client.list_objects_sized(name, &from).await?;
        if objects.is_empty() && client.list_objects(name, &to).await?.is_empty() {
            return Err(ChangeError::NoObjects(format.format.clone()));
        }
        moves.push((from, to, objects));
    }
    for (from, to, objects) in moves {
        for (key, size) in objects {
            let relative = &key[from.len()..];
            let target = format!("{to}{relative}");
            if size > MAX_COPY_SIZE {
                let kind = content_type_for(relative);
                let part_size = bucket.multipart.part_size_for(size);
                client
                    .copy_object_in_parts(name, &key, &target, size, part_size, kind)
                    .await?;
            } else {
                client.copy_object(name, &key, &target).await?;
            }
            client.delete_object(name, &key).await?;
        }
    }
    Ok(())
}

/// With the row locked: set every copy of the files aside, mark the recording deleted, then remove the copies (or
/// restore them if the row cannot be updated). In S3 mode, delete the recording's objects instead (no filesystem
/// deletion); S3 deletions cannot be undone, so the objects go first and the row is marked after.
async fn delete_recording(state: &AppState, recording: &Recording) -> Result<(), ChangeError> {
    let lock = state.store.lock_recording(&recording.record_id).await?;
    if let Some(bucket) = &state.settings.s3 {
        let locked = lock.recording().clone();
        if let Err(e) = delete_objects(bucket, &locked).await {
            lock.release().await;
            return Err(e);
        }
        return Ok(lock.mark_deleted().await?);
    }
    let dirs = [
        state.settings.recording_publish_dir.clone(),
        state.settings.recording_unpublish_dir.clone(),
    ];
    let record_id = recording.record_id.clone();
    let set_aside =
        tokio::task::spawn_blocking(move || files::set_aside_everywhere(&dirs, &record_id)).await;
    let journal = match set_aside {
        Ok(Ok(journal)) => journal,
        Ok(Err(e)) => {
            lock.release().await;
            return Err(e.into());
        }
        Err(e) => {
            lock.release().await;
            return Err(e.into());
        }
    };
    finish(journal, lock.mark_deleted().await).await
}

/// Delete every object of every playback format of the recording (S3 mode,
/// `docs/compatibility.md#api-deleterecordings`): the objects under `<published|unpublished>/<format>/<record_id>/`
/// (the recording's `published` flag chooses) and, as deleteRecordings removes the unpublished copy too, those under
/// the other prefix (an import after a publish change leaves them behind). S3 deletions cannot be undone, so the row
/// is updated after them.
async fn delete_objects(bucket: &S3Bucket, recording: &Recording) -> Result<(), ChangeError> {
    for format in &recording.playback_formats {
        for published in [recording.published, !recording.published] {
            let prefix = recording_prefix(published, &format.format, &recording.record_id);
            let keys = bucket.client.list_objects(&bucket.bucket, &prefix).await?;
            for key in keys {
                bucket.client.delete_object(&bucket.bucket, &key).await?;
            }
        }
    }
    Ok(())
}

/// Commit the file changes when the row was updated, undo them otherwise.
async fn finish(
    journal: files::Journal,
    updated: scalelite_core::storage::StoreResult<()>,
) -> Result<(), ChangeError> {
    match updated {
        Ok(()) => {
            tokio::task::spawn_blocking(move || journal.commit()).await?;
            Ok(())
        }
        Err(e) => {
            tokio::task::spawn_blocking(move || journal.roll_back()).await?;
            Err(e.into())
        }
    }
}

/// The getRecordings filter from the request (`docs/compatibility.md#api-getrecordings`): `meetingID` and `recordID`
/// lists (Ruby `split`), `state` (default published + unpublished, `any` for all), `meta_<key>` filters ORed (the key
/// normalised as [`meta_key`] does), the tenant, and `offset`/`limit`.
fn get_filter(
    params: &Params,
    tenant_id: Option<&str>,
    require_ids: bool,
) -> Result<RecordingFilter> {
    let meeting_ids = required(params, "meetingID").map(split_list);
    let record_id_prefixes = required(params, "recordID").map(split_list);
    if require_ids && meeting_ids.is_none() && record_id_prefixes.is_none() {
        return Err(ApiError::MissingParameters);
    }
    let states = match required(params, "state") {
        Some(value) => {
            let states = split_list(value);
            (!states.iter().any(|s| s == "any")).then_some(states)
        }
        None => Some(published_or_unpublished()),
    };
    let mut metadata_any: Option<Vec<(String, String)>> = None;
    for (name, value) in params.iter() {
        let Some(key) = meta_key(name) else {
            continue;
        };
        let pairs = metadata_any.get_or_insert_with(Vec::new);
        pairs.extend(split_list(value).into_iter().map(|v| (key.clone(), v)));
    }
    let (offset, limit) = page(params);
    Ok(RecordingFilter {
        meeting_ids,
        record_id_prefixes,
        record_ids: None,
        states,
        metadata_any,
        tenant_id: tenant_id.map(str::to_owned),
        offset,
        limit,
    })
}

/// `offset` (a non-negative integer, else 0) and `limit` (an integer, at most [`MAX_LIMIT`]; absent, not a number
/// or below 1 means no limit).
fn page(params: &Params) -> (Option<u64>, Option<u64>) {
    let offset = required(params, "offset")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&o| o > 0);
    let limit = required(params, "limit")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&l| l >= 1)
        .map(|l| (l as u64).min(MAX_LIMIT));
    (offset, limit)
}

/// What `updateRecordings` does to metadata: keys lower-cased, a blank value deletes, the last value of a key wins.
#[derive(Debug, Default, PartialEq, Eq)]
struct MetadataChanges {
    upserts: Vec<(String, String)>,
    deletes: Vec<String>,
}

impl MetadataChanges {
    fn from_params(params: &Params) -> Self {
        let mut changes = MetadataChanges::default();
        for (name, value) in params.iter() {
            let Some(key) = meta_key(name) else {
                continue;
            };
            // The tenant a recording belongs to is the balancer's, set at create: `meta_Tenant-Id` would otherwise
            // hand a recording to another tenant, or to none.
            if key == TENANT_ID_KEY {
                continue;
            }
            if value.trim().is_empty() {
                if !changes.deletes.contains(&key) {
                    changes.deletes.push(key);
                }
            } else if let Some(entry) = changes.upserts.iter_mut().find(|(k, _)| *k == key) {
                entry.1 = value.to_owned();
            } else {
                changes.upserts.push((key, value.to_owned()));
            }
        }
        changes
    }

    fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }
}

/// The metadata key naming a recording's tenant.
const TENANT_ID_KEY: &str = "tenant-id";

/// The metadata key of a `meta_<key>` parameter: the name without its `meta_` prefix, lower-cased. The same rule for
/// updateRecordings (the original's) and getRecordings (meta keys are matched consistently,
/// `docs/compatibility.md#api-getrecordings`; the original matched the filter key as sent, with every `meta_` removed,
/// so a key could be stored by one call and be unreachable from the other). BBB itself lower-cases `meta_` keys at
/// create, so stored keys are lower-case.
fn meta_key(name: &str) -> Option<String> {
    name.strip_prefix("meta_").map(str::to_lowercase)
}

/// Rails' boolean casting of a non-empty string: exactly `0`, `f`, `F`, `false`, `FALSE`, `off`, `OFF` are false.
fn rails_boolean(value: &str) -> bool {
    !matches!(value, "0" | "f" | "F" | "false" | "FALSE" | "off" | "OFF")
}

/// A one-time playback token: 32 random bytes as 64 lower-case hex digits.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<prefix>/recording/<record_id>/<format>?token=<token>`: the playback URL of a protected recording.
fn protected_url(prefix: &str, record_id: &str, format: &str, token: &str) -> String {
    format!(
        "{prefix}/recording/{}/{}?token={token}",
        encode_segment(record_id),
        encode_segment(format)
    )
}

#[cfg(test)]
mod tests;
