//! `ServerStore`: the pool of BBB servers, their load and health counters.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, Sqlite, Transaction};

use crate::domain::{NewServer, Secret, Server, ServerPatch, ServerState, ServerStats, TagRequest};
use crate::storage::sqlite::{SqliteStore, backend, is_unique_violation};
use crate::storage::{SelectError, ServerStore, StoreError, StoreResult};

/// Columns of a full server read; every query below that returns servers uses it with `s` = servers and
/// `c` = server_counters.
pub(super) const SERVER_COLUMNS: &str = "s.id, s.url, s.secret, s.tag, s.state, s.load, s.online, s.load_multiplier, \
     s.meetings, s.users, s.largest_meeting, s.videos, s.bbb_version, \
     COALESCE(c.healthy_counter, 0) AS healthy_counter, \
     COALESCE(c.unhealthy_counter, 0) AS unhealthy_counter";

/// Condition for "can take new meetings" (the original's `server_load` membership).
pub(super) const AVAILABLE: &str = "s.state = 'enabled' AND s.load IS NOT NULL";

impl ServerStore for SqliteStore {
    async fn list_servers(&self) -> StoreResult<Vec<Server>> {
        let sql = format!(
            "SELECT {SERVER_COLUMNS} FROM servers s \
             LEFT JOIN server_counters c ON c.server_id = s.id ORDER BY s.id"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(server_from_row).collect()
    }

    async fn get_server(&self, id: &str) -> StoreResult<Server> {
        let sql = format!(
            "SELECT {SERVER_COLUMNS} FROM servers s \
             LEFT JOIN server_counters c ON c.server_id = s.id WHERE s.id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        match row {
            Some(row) => server_from_row(&row),
            None => Err(server_not_found(id)),
        }
    }

    async fn add_server(&self, server: NewServer) -> StoreResult<Server> {
        let tag = normalize_tag(server.tag);
        let result = sqlx::query(
            "INSERT INTO servers (id, url, secret, tag, state, load, online, load_multiplier) \
             VALUES (?, ?, ?, ?, ?, NULL, 0, ?)",
        )
        .bind(&server.id)
        .bind(&server.url)
        .bind(server.secret.expose())
        .bind(&tag)
        .bind(server.state.as_str())
        .bind(server.load_multiplier)
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => self.get_server(&server.id).await,
            Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict(format!(
                "Server already exists with id '{}'",
                server.id
            ))),
            Err(e) => Err(backend(e)),
        }
    }

    async fn patch_server(&self, id: &str, patch: ServerPatch) -> StoreResult<Server> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {SERVER_COLUMNS} FROM servers s \
             LEFT JOIN server_counters c ON c.server_id = s.id WHERE s.id = ?"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Err(server_not_found(id));
        };
        let mut server = server_from_row(&row)?;
        apply_patch(&mut server, patch);
        sqlx::query(
            "UPDATE servers SET url = ?, secret = ?, tag = ?, state = ?, load = ?, online = ?, \
             load_multiplier = ?, meetings = ?, users = ?, largest_meeting = ?, videos = ?, bbb_version = ? \
             WHERE id = ?",
        )
        .bind(&server.url)
        .bind(server.secret.expose())
        .bind(&server.tag)
        .bind(server.state.as_str())
        .bind(server.load)
        .bind(server.online)
        .bind(server.load_multiplier)
        .bind(server.stats.meetings)
        .bind(server.stats.users)
        .bind(server.stats.largest_meeting)
        .bind(server.stats.videos)
        .bind(&server.bbb_version)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(server)
    }

    async fn delete_server(&self, id: &str) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM servers WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        if deleted == 0 {
            return Err(server_not_found(id));
        }
        sqlx::query("DELETE FROM server_counters WHERE server_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn available_servers(&self) -> StoreResult<Vec<Server>> {
        let sql = format!(
            "SELECT {SERVER_COLUMNS} FROM servers s \
             LEFT JOIN server_counters c ON c.server_id = s.id WHERE {AVAILABLE} ORDER BY s.load, s.id"
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(server_from_row).collect()
    }

    async fn select_server(&self, tags: &TagRequest) -> Result<Server, SelectError> {
        // The write lock is held from the first read: no other connection or process can pick or bump a
        // server between our choice and our increment.
        let mut tx = self.begin_write().await?;
        let server = select_in(&mut tx, tags).await?;
        tx.commit().await.map_err(backend)?;
        Ok(server)
    }

    async fn increment_load(&self, id: &str, amount: f64) -> StoreResult<Option<f64>> {
        self.bump_load(id, amount).await
    }

    fn increment_load_behind(&self, id: &str, amount: f64) {
        self.bump_load_behind(id, amount);
    }

    async fn increment_healthy(&self, id: &str) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO server_counters (server_id, healthy_counter) VALUES (?, 1) \
             ON CONFLICT (server_id) DO UPDATE SET healthy_counter = healthy_counter + 1 \
             RETURNING healthy_counter",
        )
        .bind(id)
        .fetch_one(&self.writer)
        .await
        .map_err(backend)
    }

    async fn increment_unhealthy(&self, id: &str) -> StoreResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO server_counters (server_id, unhealthy_counter) VALUES (?, 1) \
             ON CONFLICT (server_id) DO UPDATE SET unhealthy_counter = unhealthy_counter + 1 \
             RETURNING unhealthy_counter",
        )
        .bind(id)
        .fetch_one(&self.writer)
        .await
        .map_err(backend)
    }

    async fn reset_counters(&self, id: &str, healthy: bool, unhealthy: bool) -> StoreResult<()> {
        if !healthy && !unhealthy {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO server_counters (server_id, healthy_counter, unhealthy_counter) VALUES (?, 0, 0) \
             ON CONFLICT (server_id) DO UPDATE SET \
             healthy_counter = CASE WHEN ? THEN 0 ELSE healthy_counter END, \
             unhealthy_counter = CASE WHEN ? THEN 0 ELSE unhealthy_counter END",
        )
        .bind(id)
        .bind(healthy)
        .bind(unhealthy)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }
}

/// Pick the least-loaded available server for `tags` and bump its load by its multiplier, inside `tx` (which must
/// hold the write lock). Two statements: the candidates with every column, then the bump.
async fn select_in(
    tx: &mut Transaction<'static, Sqlite>,
    tags: &TagRequest,
) -> Result<Server, SelectError> {
    let rows = sqlx::query(&format!(
        "SELECT {SERVER_COLUMNS} FROM servers s \
         LEFT JOIN server_counters c ON c.server_id = s.id WHERE {AVAILABLE} ORDER BY s.load, s.id"
    ))
    .fetch_all(&mut **tx)
    .await
    .map_err(backend)?;
    let servers: Vec<Server> = rows
        .iter()
        .map(server_from_row)
        .collect::<StoreResult<_>>()?;
    let mut server = choose_server(&servers, |s| s.tag.as_deref(), tags)?.clone();
    let load: Option<f64> = sqlx::query_scalar(&format!(
        "UPDATE servers AS s SET load = s.load + s.load_multiplier WHERE s.id = ? AND {AVAILABLE} \
         RETURNING load"
    ))
    .bind(&server.id)
    .fetch_optional(&mut **tx)
    .await
    .map_err(backend)?;
    server.load = load;
    Ok(server)
}

/// The original's `find_available` on the available servers, given in ascending (load, id) order (`tag_of` reads a
/// server's tag): the first server carrying one of the requested tags (`none` = untagged); with no match, a
/// required request fails and an optional one falls back to untagged servers; untagged requests only ever get
/// untagged servers.
pub(super) fn choose_server<'a, T>(
    available: &'a [T],
    tag_of: impl Fn(&T) -> Option<&str>,
    tags: &TagRequest,
) -> Result<&'a T, SelectError> {
    if available.is_empty() {
        return Err(SelectError::NoServers);
    }
    let has_tag = |server_tag: Option<&str>, wanted: &str| match server_tag {
        Some(t) => t == wanted,
        None => wanted == "none",
    };
    if !tags.tags.is_empty() {
        let tagged = available
            .iter()
            .find(|s| tags.tags.iter().any(|wanted| has_tag(tag_of(s), wanted)));
        match tagged {
            Some(server) => return Ok(server),
            None if tags.required => return Err(SelectError::TagUnavailable(tags.display())),
            None => {}
        }
    }
    available
        .iter()
        .find(|s| tag_of(s).is_none())
        .ok_or(SelectError::NoServers)
}

/// Apply `patch` to `server` with the original's load carry-over rules (see `ServerPatch`). The load lives in
/// one column whatever the state, so cordoning and re-enabling keep it as it is.
pub(super) fn apply_patch(server: &mut Server, patch: ServerPatch) {
    let ServerPatch {
        url,
        secret,
        tag,
        load_multiplier,
        state,
        online,
        load,
        stats,
        bbb_version,
    } = patch;
    if let Some(url) = url {
        server.url = url;
    }
    if let Some(secret) = secret {
        server.secret = secret;
    }
    if let Some(tag) = tag {
        server.tag = normalize_tag(tag);
    }
    if let Some(load_multiplier) = load_multiplier {
        server.load_multiplier = load_multiplier;
    }
    if let Some(online) = online {
        server.online = online;
    }
    if let Some(stats) = stats {
        server.stats = stats;
    }
    if let Some(bbb_version) = bbb_version {
        server.bbb_version = Some(bbb_version);
    }
    if let Some(state) = state {
        server.state = state;
    }
    if let Some(load) = load {
        server.load = load;
    }
    if server.state == ServerState::Disabled {
        server.load = None;
    }
}

/// A blank tag is no tag.
fn normalize_tag(tag: Option<String>) -> Option<String> {
    tag.filter(|t| !t.is_empty())
}

fn server_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("server {id}"))
}

/// A row a server is read from, by column name: sqlx's (most reads) or rusqlite's (`direct`).
pub(super) trait ServerColumns {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn optional_text(&self, name: &str) -> StoreResult<Option<String>>;
    fn real(&self, name: &str) -> StoreResult<f64>;
    fn optional_real(&self, name: &str) -> StoreResult<Option<f64>>;
    fn integer(&self, name: &str) -> StoreResult<i64>;
    fn flag(&self, name: &str) -> StoreResult<bool>;
}

impl ServerColumns for SqliteRow {
    fn text(&self, name: &str) -> StoreResult<String> {
        self.try_get(name).map_err(backend)
    }
    fn optional_text(&self, name: &str) -> StoreResult<Option<String>> {
        self.try_get(name).map_err(backend)
    }
    fn real(&self, name: &str) -> StoreResult<f64> {
        self.try_get(name).map_err(backend)
    }
    fn optional_real(&self, name: &str) -> StoreResult<Option<f64>> {
        self.try_get(name).map_err(backend)
    }
    fn integer(&self, name: &str) -> StoreResult<i64> {
        self.try_get(name).map_err(backend)
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.try_get(name).map_err(backend)
    }
}

/// A server from a row of [`SERVER_COLUMNS`].
pub(super) fn server_from_row(row: &impl ServerColumns) -> StoreResult<Server> {
    let state = row.text("state")?;
    let state = ServerState::parse(&state)
        .ok_or_else(|| StoreError::Backend(format!("invalid server state {state:?}")))?;
    let load = row.optional_real("load")?;
    Ok(Server {
        id: row.text("id")?,
        url: row.text("url")?,
        secret: Secret::new(row.text("secret")?),
        tag: row.optional_text("tag")?,
        state,
        load: if state == ServerState::Disabled {
            None
        } else {
            load
        },
        online: row.flag("online")?,
        load_multiplier: row.real("load_multiplier")?,
        healthy_counter: row.integer("healthy_counter")?,
        unhealthy_counter: row.integer("unhealthy_counter")?,
        stats: ServerStats {
            meetings: row.integer("meetings")?,
            users: row.integer("users")?,
            largest_meeting: row.integer("largest_meeting")?,
            videos: row.integer("videos")?,
        },
        bbb_version: row.optional_text("bbb_version")?,
    })
}
