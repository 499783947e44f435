//! `MeetingStore`: meetings placed on servers, their voice bridges and their time to live.
//!
//! A meeting row whose `expires_at` has passed is absent for every read and every write (as an expired Redis
//! hash is); `clean_orphans` deletes such rows and voice bridge entries that no live meeting holds.

use std::sync::LazyLock;
use std::time::Duration;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::domain::{
    AbandonedPlacement, CreateParams, Meeting, MeetingPlacement, MeetingState, NewMeeting,
    PlacedMeeting, Server, TagRequest,
};
use crate::storage::sqlite::direct::first_row;
use crate::storage::sqlite::servers::{SERVER_COLUMNS, ServerColumns, server_from_row};
use crate::storage::sqlite::{SqliteStore, backend, expiry_ms, json_list, now_ms};
use crate::storage::{
    CallbackUrlsClean, CallbackUrlsMark, CreateRead, MeetingStore, NewPlacement, SelectError,
    StoreError, StoreResult,
};

const MEETING_COLUMNS: &str = "m.id, m.server_id, m.moderator_pw, m.voice_bridge, m.tenant_id";

/// Keep (or replace) a meeting's create parameters: meeting id, parameters (JSON), body, server tag.
const PUT_CREATE_PARAMS: &str = "INSERT INTO meeting_create_params (meeting_id, params, body, server_tag) \
     VALUES (?, ?, ?, ?) ON CONFLICT (meeting_id) DO UPDATE SET params = excluded.params, \
     body = excluded.body, server_tag = excluded.server_tag";

impl MeetingStore for SqliteStore {
    async fn get_meeting(&self, id: &str) -> StoreResult<Meeting> {
        let row = sqlx::query(&format!(
            "SELECT {MEETING_COLUMNS} FROM meetings m WHERE m.id = ? AND m.expires_at > ?"
        ))
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => meeting_from_row(&row),
            None => Err(meeting_not_found(id)),
        }
    }

    async fn list_meetings(&self) -> StoreResult<Vec<Meeting>> {
        let rows = sqlx::query(&format!(
            "SELECT {MEETING_COLUMNS} FROM meetings m WHERE m.expires_at > ? ORDER BY m.id"
        ))
        .bind(now_ms())
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(meeting_from_row).collect()
    }

    async fn find_or_create_meeting(
        &self,
        meeting: NewMeeting,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        self.claim_meeting(meeting, "", Duration::ZERO, ttl).await
    }

    async fn claim_meeting(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        // Group commit (`group`), as placements: the record is created, or (it exists, or the claim fails)
        // nothing changes.
        self.group_claim(meeting, token, claim_for, ttl).await
    }

    async fn place_meeting<P>(
        &self,
        tags: &TagRequest,
        meeting: NewMeeting,
        moderator_pw: P,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> Result<(Server, StoreResult<MeetingPlacement>), SelectError>
    where
        P: FnOnce(&Server) -> String + Send + 'static,
    {
        // Group commit (`group`): the choice, the bump and the claim commit together, or (the record exists, or
        // the claim fails) neither the bump nor the claim stays.
        self.group_place(tags, meeting, Box::new(moderator_pw), token, claim_for, ttl)
            .await
    }

    async fn delete_meeting(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let existed = delete_in(&mut tx, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(existed)
    }

    async fn meeting_state(&self, id: &str) -> StoreResult<Option<MeetingState>> {
        let now = now_ms();
        let row = sqlx::query(&format!(
            "SELECT {MEETING_COLUMNS}, c.token FROM meetings m \
             LEFT JOIN meeting_claims c ON c.meeting_id = m.id AND c.expires_at > ? \
             WHERE m.id = ? AND m.expires_at > ?"
        ))
        .bind(now)
        .bind(id)
        .bind(now)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(MeetingState {
            meeting: meeting_from_row(&row)?,
            claim: row.try_get("token").map_err(backend)?,
        }))
    }

    async fn meeting_with_server(&self, id: &str) -> StoreResult<Option<PlacedMeeting>> {
        // One statement: the meeting's columns under their own names (the server's columns are SERVER_COLUMNS).
        // Every per-meeting API call runs it: the text is made once.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {PLACED_COLUMNS}, {SERVER_COLUMNS} FROM meetings m {PLACED_JOINS} \
                 WHERE m.id = ? AND m.expires_at > ?"
            )
        });
        let now = now_ms();
        // On the calling thread (`direct`): every per-meeting API call makes this read.
        self.direct.read(|connection| {
            first_row(connection, SQL.as_str(), (now, id, now), |row| {
                placed_from_row(id, row)
            })
        })
    }

    async fn meeting_for_create(
        &self,
        id: &str,
        tenant_id: Option<&str>,
        _place: Option<&NewPlacement<'_>>,
    ) -> StoreResult<CreateRead> {
        // The meeting with its server, and whether its callback data holds URLs, in one statement (so one read
        // transaction, one round of SQLite's locks): the row always comes, the meeting's columns NULL when there
        // is none. A new meeting is placed by `place_meeting`'s group commit: the pick, its bump and the claim.
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT m.id IS NOT NULL AS m_found, {PLACED_COLUMNS}, {SERVER_COLUMNS}, \
                 EXISTS (SELECT 1 FROM callback_data d WHERE d.meeting_id = ? AND d.tenant_id = ? \
                 AND (d.recording_ready_url IS NOT NULL OR d.analytics_callback_url IS NOT NULL)) AS d_urls \
                 FROM (SELECT 1) one LEFT JOIN meetings m ON m.id = ? AND m.expires_at > ? {PLACED_JOINS}"
            )
        });
        let now = now_ms();
        let tenant = tenant_id.unwrap_or_default();
        // On the calling thread (`direct`), like `meeting_with_server`.
        let (placed, urls) = self.direct.read(|connection| {
            let read = first_row(
                connection,
                SQL.as_str(),
                (id, tenant, id, now, now),
                |row| {
                    let placed = if row.flag("m_found")? {
                        Some(placed_from_row(id, row)?)
                    } else {
                        None
                    };
                    Ok((placed, row.flag("d_urls")?))
                },
            )?;
            Ok(read.unwrap_or((None, true)))
        })?;
        Ok(CreateRead {
            placed,
            // Read just now: `clear_callback_urls` reads again only when there are URLs to clear.
            mark: CallbackUrlsMark {
                generation: None,
                clean: !urls,
            },
            placed_new: None,
        })
    }

    async fn confirm_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        self.group_confirm(id, token, None).await
    }

    async fn confirm_meeting_with_params(
        &self,
        id: &str,
        token: &str,
        params: &CreateParams,
        _ttl: Duration,
        _clean: Option<&CallbackUrlsClean>,
    ) -> StoreResult<bool> {
        // Two statements, each atomic on its own (as put_create_params then confirm_meeting), in the next group
        // commit.
        let list = serde_json::to_string(&params.params)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        self.group_confirm(
            id,
            token,
            Some((list, params.body.clone(), params.server_tag.clone())),
        )
        .await
    }

    async fn move_meeting(
        &self,
        id: &str,
        token: &str,
        server_id: &str,
        moderator_pw: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !holds_claim(&mut tx, id, token).await? {
            return Ok(false);
        }
        sqlx::query("UPDATE meetings SET server_id = ?, moderator_pw = ? WHERE id = ?")
            .bind(server_id)
            .bind(moderator_pw)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("UPDATE meeting_claims SET expires_at = ? WHERE meeting_id = ?")
            .bind(expiry_ms(claim_for))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn release_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        if !holds_claim(&mut tx, id, token).await? {
            return Ok(false);
        }
        delete_in(&mut tx, id).await?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn take_over_meeting(
        &self,
        id: &str,
        from_server: &str,
        token: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let placed: Option<String> =
            sqlx::query_scalar("SELECT server_id FROM meetings WHERE id = ? AND expires_at > ?")
                .bind(id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let claimed: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM meeting_claims WHERE meeting_id = ? AND expires_at > ?",
        )
        .bind(id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if placed.as_deref() != Some(from_server) || claimed.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO meeting_claims (meeting_id, token, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (meeting_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
        )
        .bind(id)
        .bind(token)
        .bind(expiry_ms(claim_for))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn put_create_params(
        &self,
        id: &str,
        params: &CreateParams,
        _ttl: Duration,
    ) -> StoreResult<()> {
        // The row lives as long as the meeting row: reads join it, and deleting the meeting deletes it.
        let list = serde_json::to_string(&params.params)
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        sqlx::query(PUT_CREATE_PARAMS)
            .bind(id)
            .bind(list)
            .bind(params.body.as_deref())
            .bind(params.server_tag.as_deref())
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get_create_params(&self, id: &str) -> StoreResult<Option<CreateParams>> {
        let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT p.params, p.body, p.server_tag FROM meeting_create_params p \
             JOIN meetings m ON m.id = p.meeting_id WHERE p.meeting_id = ? AND m.expires_at > ?",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        let Some((list, body, server_tag)) = row else {
            return Ok(None);
        };
        let params = serde_json::from_str(&list).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Some(CreateParams {
            params,
            body,
            server_tag,
        }))
    }

    async fn record_abandoned(&self, placement: AbandonedPlacement) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO abandoned_placements (meeting_id, server_id, moderator_pw, abandoned_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (meeting_id, server_id) DO UPDATE SET \
             moderator_pw = excluded.moderator_pw, abandoned_at = excluded.abandoned_at",
        )
        .bind(&placement.meeting_id)
        .bind(&placement.server_id)
        .bind(&placement.moderator_pw)
        .bind(placement.at_ms)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn list_abandoned(&self) -> StoreResult<Vec<AbandonedPlacement>> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT meeting_id, server_id, moderator_pw, abandoned_at FROM abandoned_placements \
             ORDER BY abandoned_at, meeting_id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(
                |(meeting_id, server_id, moderator_pw, at_ms)| AbandonedPlacement {
                    meeting_id,
                    server_id,
                    moderator_pw,
                    at_ms,
                },
            )
            .collect())
    }

    async fn forget_abandoned(&self, meeting_id: &str, server_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM abandoned_placements WHERE meeting_id = ? AND server_id = ?")
            .bind(meeting_id)
            .bind(server_id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn meeting_by_voice_bridge(&self, voice_bridge: &str) -> StoreResult<Meeting> {
        let row = sqlx::query(&format!(
            "SELECT {MEETING_COLUMNS} FROM voice_bridges v JOIN meetings m ON m.id = v.meeting_id \
             WHERE v.number = ? AND m.voice_bridge = v.number AND m.expires_at > ?"
        ))
        .bind(voice_bridge)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        match row {
            Some(row) => meeting_from_row(&row),
            None => Err(StoreError::NotFound(format!(
                "meeting with voice bridge {voice_bridge}"
            ))),
        }
    }

    async fn refresh_meetings(&self, ids: &[String], ttl: Duration) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE meetings SET expires_at = ? \
             WHERE id IN (SELECT value FROM json_each(?)) AND expires_at > ?",
        )
        .bind(expiry_ms(ttl))
        .bind(json_list(ids)?)
        .bind(now_ms())
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn clean_orphans(&self) -> StoreResult<u64> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let meetings = sqlx::query("DELETE FROM meetings WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        let voice_bridges = sqlx::query(
            "DELETE FROM voice_bridges WHERE NOT EXISTS (SELECT 1 FROM meetings m \
             WHERE m.id = voice_bridges.meeting_id AND m.voice_bridge = voice_bridges.number)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?
        .rows_affected();
        // Claims of meetings that are gone are not counted: they are ours, not the original's orphans.
        sqlx::query(
            "DELETE FROM meeting_claims WHERE expires_at <= ? OR NOT EXISTS (SELECT 1 FROM meetings m \
             WHERE m.id = meeting_claims.meeting_id)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(
            "DELETE FROM meeting_create_params WHERE NOT EXISTS (SELECT 1 FROM meetings m \
             WHERE m.id = meeting_create_params.meeting_id)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(meetings + voice_bridges)
    }
}

/// What a claim of a meeting whose record is live answers: that record, unless another tenant's
/// (`wanted_tenant`: the claimer's, blank meaning none).
pub(super) fn existing_placement(
    existing: Meeting,
    wanted_tenant: Option<&str>,
) -> StoreResult<MeetingPlacement> {
    match (&existing.tenant_id, wanted_tenant) {
        (Some(stored), Some(wanted)) if stored != wanted => Err(StoreError::Conflict(format!(
            "Couldn't find Meeting with id={} and tenant_id={wanted}",
            existing.id
        ))),
        _ => Ok(MeetingPlacement::Existing(existing)),
    }
}

/// Whether meeting `id` may take a number whose holder (and whether the holder's record is live) is `holder`:
/// nobody holds it, `id` itself does, or a meeting that no longer exists.
pub(super) fn may_take(holder: Option<(&str, bool)>, id: &str) -> bool {
    holder.is_none_or(|(holder, live)| holder == id || !live)
}

/// The first of the meeting's candidate numbers that it may take ([`may_take`]); `holder(number)` is the number's
/// holder and whether its record is live.
pub(super) fn free_number<'a>(
    meeting: &NewMeeting,
    holder: impl Fn(&str) -> Option<(&'a str, bool)>,
) -> StoreResult<String> {
    meeting
        .voice_bridge_candidates
        .iter()
        .find(|candidate| may_take(holder(candidate), &meeting.id))
        .cloned()
        .ok_or_else(|| {
            StoreError::Conflict(format!(
                "Failed to allocate conference number for meeting {}",
                meeting.id
            ))
        })
}

/// Whether `token` holds a live claim on a live meeting `id`.
async fn holds_claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: &str,
    token: &str,
) -> StoreResult<bool> {
    let now = now_ms();
    let held: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM meeting_claims c JOIN meetings m ON m.id = c.meeting_id \
         WHERE c.meeting_id = ? AND c.token = ? AND c.expires_at > ? AND m.expires_at > ?",
    )
    .bind(id)
    .bind(token)
    .bind(now)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(held.is_some())
}

/// Remove the meeting row, its voice bridge and its claim; whether a live record existed.
async fn delete_in(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, id: &str) -> StoreResult<bool> {
    let now = now_ms();
    let expires_at: Option<i64> =
        sqlx::query_scalar("DELETE FROM meetings WHERE id = ? RETURNING expires_at")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(backend)?;
    for table in ["voice_bridges", "meeting_claims", "meeting_create_params"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE meeting_id = ?"))
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(backend)?;
    }
    Ok(expires_at.is_some_and(|e| e > now))
}

fn meeting_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("meeting {id}"))
}

pub(super) fn meeting_from_row(row: &SqliteRow) -> StoreResult<Meeting> {
    Ok(Meeting {
        id: row.try_get("id").map_err(backend)?,
        server_id: row.try_get("server_id").map_err(backend)?,
        moderator_pw: row.try_get("moderator_pw").map_err(backend)?,
        voice_bridge: row.try_get("voice_bridge").map_err(backend)?,
        tenant_id: row
            .try_get::<Option<String>, _>("tenant_id")
            .map_err(backend)?
            .filter(|t| !t.is_empty()),
    })
}

/// The meeting's columns of `meeting_with_server`'s and `meeting_for_create`'s reads ([`placed_from_row`]), from
/// `m`, the claim `cl` and the server `s`.
const PLACED_COLUMNS: &str = "m.server_id AS m_server_id, m.moderator_pw AS m_moderator_pw, \
     m.voice_bridge AS m_voice_bridge, m.tenant_id AS m_tenant_id, cl.token AS m_claim, s.id IS NOT NULL AS s_found";

/// The joins of those reads: the meeting's live claim (its expiry the first parameter), its server and counters.
const PLACED_JOINS: &str = "LEFT JOIN meeting_claims cl ON cl.meeting_id = m.id AND cl.expires_at > ? \
     LEFT JOIN servers s ON s.id = m.server_id LEFT JOIN server_counters c ON c.server_id = s.id";

/// A meeting with its claim and server, from a row of those reads.
fn placed_from_row(id: &str, row: &impl ServerColumns) -> StoreResult<PlacedMeeting> {
    let meeting = Meeting {
        id: id.to_owned(),
        server_id: row.text("m_server_id")?,
        moderator_pw: row.text("m_moderator_pw")?,
        voice_bridge: row.text("m_voice_bridge")?,
        tenant_id: row.optional_text("m_tenant_id")?.filter(|t| !t.is_empty()),
    };
    Ok(PlacedMeeting {
        state: MeetingState {
            meeting,
            claim: row.optional_text("m_claim")?,
        },
        server: if row.flag("s_found")? {
            Some(server_from_row(row)?)
        } else {
            None
        },
    })
}
