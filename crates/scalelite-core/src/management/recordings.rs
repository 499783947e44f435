//! Recording maintenance that does not need the importer: `recordings:addToTenant` and `recordings:update`.

use std::path::{Path, PathBuf};

use crate::domain::{Recording, RecordingFilter};
use crate::management::{Management, ManagementError, Result};
use crate::paths::{is_safe_segment, safe_join};
use crate::storage::RecordingStore;

/// Recordings are read in pages of this many.
const PAGE: u64 = 500;

/// What `recordings:update` moved and what it could not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MoveReport {
    /// `(record_id, format)` moved from the publish directory to the unpublish directory.
    pub moved: Vec<(String, String)>,
    /// Unpublished recordings left alone because some format is already in the unpublish directory.
    pub already_unpublished: Vec<String>,
    /// `(record_id, format, reason)` that could not be moved.
    pub failed: Vec<(String, String, String)>,
}

impl Management {
    /// Every recording, page by page, with a filter applied in memory (the store has no filter on these facts).
    async fn all_recordings_where(
        &self,
        keep: impl Fn(&Recording) -> bool,
    ) -> Result<Vec<Recording>> {
        let mut out = Vec::new();
        let mut offset = 0;
        loop {
            let page = self
                .store
                .find_recordings(&RecordingFilter {
                    offset: Some(offset),
                    limit: Some(PAGE),
                    ..RecordingFilter::default()
                })
                .await?;
            let count = page.len() as u64;
            out.extend(page.into_iter().filter(|r| keep(r)));
            if count < PAGE {
                return Ok(out);
            }
            offset += count;
        }
    }

    /// `recordings:addToTenant`: give every recording without a `tenant-id` metadatum the tenant `tenant_id` (which
    /// must exist). Returns how many recordings were changed.
    pub async fn add_recordings_to_tenant(&self, tenant_id: &str) -> Result<usize> {
        if tenant_id.trim().is_empty() {
            return Err(ManagementError::Invalid(
                "No tenant ID was provided".to_owned(),
            ));
        }
        self.get_tenant(tenant_id).await?;
        // Collect first, then write: changing metadata while paging could shift the pages.
        let ids: Vec<String> = self
            .all_recordings_where(|r| !r.metadata.iter().any(|(key, _)| key == "tenant-id"))
            .await?
            .into_iter()
            .map(|r| r.record_id)
            .collect();
        for batch in ids.chunks(PAGE as usize) {
            self.store
                .update_metadata(
                    batch,
                    &[("tenant-id".to_owned(), tenant_id.to_owned())],
                    &[],
                )
                .await?;
        }
        Ok(ids.len())
    }

    /// `recordings:update`: for every unpublished recording none of whose formats is in `unpublish_dir` yet, move
    /// each format directory `<publish_dir>/<format>/<record_id>` to `<unpublish_dir>/<format>/<record_id>`.
    /// Failures are reported per format; the others still move.
    pub async fn move_unpublished_recordings(
        &self,
        publish_dir: &Path,
        unpublish_dir: &Path,
    ) -> Result<MoveReport> {
        let recordings = self.all_recordings_where(|r| !r.published).await?;
        let mut report = MoveReport::default();
        for recording in recordings {
            let record_id = &recording.record_id;
            if already_in(unpublish_dir, record_id, &recording) {
                report.already_unpublished.push(record_id.clone());
                continue;
            }
            for format in &recording.playback_formats {
                let name = &format.format;
                match move_format(publish_dir, unpublish_dir, name, record_id) {
                    Ok(()) => report.moved.push((record_id.clone(), name.clone())),
                    Err(why) => report.failed.push((record_id.clone(), name.clone(), why)),
                }
            }
        }
        Ok(report)
    }
}

/// Whether any `<unpublish_dir>/*/<record_id>` exists (the original's glob): checked for the recording's formats and
/// for every format directory present.
fn already_in(unpublish_dir: &Path, record_id: &str, recording: &Recording) -> bool {
    if !is_safe_segment(record_id) {
        return false;
    }
    let mut formats: Vec<PathBuf> = recording
        .playback_formats
        .iter()
        .filter_map(|f| safe_join(unpublish_dir, &f.format).ok())
        .collect();
    if let Ok(entries) = std::fs::read_dir(unpublish_dir) {
        formats.extend(entries.flatten().map(|e| e.path()));
    }
    formats.iter().any(|dir| {
        safe_join(dir, record_id)
            .map(|path| path.exists())
            .unwrap_or(false)
    })
}

fn move_format(
    publish_dir: &Path,
    unpublish_dir: &Path,
    format: &str,
    record_id: &str,
) -> std::result::Result<(), String> {
    if !is_safe_segment(format) || !is_safe_segment(record_id) {
        return Err("unsafe format or record id".to_owned());
    }
    let from_dir = safe_join(publish_dir, format).map_err(|e| e.to_string())?;
    let from = safe_join(&from_dir, record_id).map_err(|e| e.to_string())?;
    let to_dir = safe_join(unpublish_dir, format).map_err(|e| e.to_string())?;
    let to = safe_join(&to_dir, record_id).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&to_dir)
        .map_err(|e| format!("cannot create {}: {e}", to_dir.display()))?;
    std::fs::rename(&from, &to)
        .map_err(|e| format!("cannot move {} to {}: {e}", from.display(), to.display()))
}
