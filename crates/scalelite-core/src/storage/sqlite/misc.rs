//! `MiscStore`: one-time playback tokens, leases and the health check. Each operation is one atomic statement
//! (the health check excepted, which is a write then a read).

use std::collections::HashMap;
use std::time::Duration;

use crate::storage::sqlite::{SqliteStore, backend, expiry_ms, json_list, now_ms};
use crate::storage::{MiscStore, StoreError, StoreResult};

/// Upper bound of a health check (the write may wait for another writer up to the busy timeout).
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

impl MiscStore for SqliteStore {
    async fn put_playback_token(
        &self,
        token: &str,
        record_id: &str,
        format: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // Expired tokens are never read again; dropping them here keeps the table small.
        sqlx::query("DELETE FROM playback_tokens WHERE expires_at <= ?")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO playback_tokens (token, record_id, format, expires_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (token) DO UPDATE SET record_id = excluded.record_id, format = excluded.format, \
             expires_at = excluded.expires_at",
        )
        .bind(token)
        .bind(record_id)
        .bind(format)
        .bind(expiry_ms(ttl))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn take_playback_token(&self, token: &str) -> StoreResult<Option<(String, String)>> {
        let now = now_ms();
        let taken: Option<(String, String, i64)> = sqlx::query_as(
            "DELETE FROM playback_tokens WHERE token = ? RETURNING record_id, format, expires_at",
        )
        .bind(token)
        .fetch_optional(&self.writer)
        .await
        .map_err(backend)?;
        Ok(taken
            .filter(|(_, _, expires_at)| *expires_at > now)
            .map(|(record_id, format, _)| (record_id, format)))
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        // Taken over only when free, already ours, or expired; RETURNING yields a row exactly then.
        let held: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ? \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(expiry_ms(ttl))
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await
        .map_err(backend)?;
        Ok(held.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn missing_meetings(&self) -> StoreResult<HashMap<String, i64>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT meeting_id, since_ms FROM missing_meetings")
                .fetch_all(&self.reader)
                .await
                .map_err(backend)?;
        Ok(rows.into_iter().collect())
    }

    async fn update_missing_meetings(
        &self,
        mark: &[(String, i64)],
        clear: &[String],
    ) -> StoreResult<()> {
        if mark.is_empty() && clear.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for (meeting_id, since) in mark {
            sqlx::query(
                "INSERT INTO missing_meetings (meeting_id, since_ms) VALUES (?, ?) \
                 ON CONFLICT (meeting_id) DO UPDATE SET since_ms = excluded.since_ms",
            )
            .bind(meeting_id)
            .bind(since)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if !clear.is_empty() {
            sqlx::query(
                "DELETE FROM missing_meetings WHERE meeting_id IN (SELECT value FROM json_each(?))",
            )
            .bind(json_list(clear)?)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }

    async fn health_check(&self) -> StoreResult<()> {
        let check = async {
            let now = now_ms();
            sqlx::query(
                "INSERT INTO health_check (id, checked_at) VALUES (1, ?) \
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
            )
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
            // The row exists once any write succeeded; reading it proves the read path works too.
            let _: i64 = sqlx::query_scalar("SELECT checked_at FROM health_check WHERE id = 1")
                .fetch_one(&self.reader)
                .await
                .map_err(backend)?;
            Ok(())
        };
        tokio::time::timeout(HEALTH_CHECK_TIMEOUT, check)
            .await
            .map_err(|_| StoreError::Backend("sqlite health check timed out".to_owned()))?
    }
}
