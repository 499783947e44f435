//! The Redis half of the production back-end: servers, meetings, tenants, tokens, leases.
//!
//! Layout and value formats are the original's (`docs/compatibility.md#data-redis`); every key comes from `keys::Keys`.
//! Operations the original makes atomic with WATCH/MULTI run here as one Lua script each, so they stay atomic
//! against our own processes and against a running original.
//!
//! Connection handling: one `ConnectionManager` (a multiplexed connection that reconnects by itself after the
//! connection drops) with connection and response timeouts, and every operation bounded by `op_timeout`. A
//! connection that stops answering without closing (a black-holed network) never reports a drop, so after a
//! time-out the manager is replaced by a fresh one and the next operation dials again.

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::domain::{
    AbandonedPlacement, CreateParams, Meeting, MeetingPlacement, MeetingState, NewMeeting,
    NewServer, PlacedMeeting, Secret, Server, ServerPatch, ServerState, ServerStats, TagRequest,
    Tenant, TenantSetting,
};
use crate::storage::production::keys::Keys;
use crate::storage::{
    CallbackUrlsClean, CallbackUrlsMark, NewPlacement, SelectError, StoreError, StoreResult,
};

/// How many ids one pipelined or scripted batch carries.
const BATCH: usize = 500;
/// How long a meeting's callback URL mark lives after its last change; without it, the next create reads
/// PostgreSQL again.
const CALLBACK_MARK_TTL: Duration = Duration::from_secs(24 * 3600);

/// Cloneable handle on the Redis side.
#[derive(Clone)]
pub(crate) struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager_config: ConnectionManagerConfig,
    slot: Mutex<Slot>,
    op_timeout: Duration,
    keys: Keys,
    scripts: Scripts,
}

/// The manager in use; `generation` tells whether someone already replaced it.
struct Slot {
    generation: u64,
    manager: ConnectionManager,
}

struct Scripts {
    read_servers: Script,
    meeting_with_server: Script,
    add_server: Script,
    patch_server: Script,
    delete_server: Script,
    select_server: Script,
    find_or_create_meeting: Script,
    delete_meeting: Script,
    settle_claim: Script,
    confirm_placements: Script,
    clean_orphans: Script,
    save_tenant: Script,
    delete_tenant: Script,
    put_tenant_setting: Script,
    delete_tenant_setting: Script,
    take_token: Script,
    try_lease: Script,
    release_lease: Script,
    mark_callbacks_clean: Script,
}

impl Scripts {
    fn new() -> Self {
        let prelude = include_str!("lua/prelude.lua");
        let mark_clean = include_str!("lua/mark_clean.lua");
        let claim = include_str!("lua/claim.lua");
        let server = |body: &str| Script::new(&format!("{prelude}\n{body}"));
        Self {
            read_servers: server(include_str!("lua/read_servers.lua")),
            meeting_with_server: server(&format!(
                "{claim}\n{}",
                include_str!("lua/meeting_with_server.lua")
            )),
            add_server: server(include_str!("lua/add_server.lua")),
            patch_server: server(include_str!("lua/patch_server.lua")),
            delete_server: server(include_str!("lua/delete_server.lua")),
            select_server: server(include_str!("lua/select_server.lua")),
            find_or_create_meeting: Script::new(&format!(
                "{claim}\n{}",
                include_str!("lua/find_or_create_meeting.lua")
            )),
            delete_meeting: Script::new(include_str!("lua/delete_meeting.lua")),
            settle_claim: Script::new(include_str!("lua/settle_claim.lua")),
            confirm_placements: Script::new(&format!(
                "{mark_clean}\n{}",
                include_str!("lua/confirm_placements.lua")
            )),
            clean_orphans: Script::new(include_str!("lua/clean_orphans.lua")),
            save_tenant: Script::new(include_str!("lua/save_tenant.lua")),
            delete_tenant: Script::new(include_str!("lua/delete_tenant.lua")),
            put_tenant_setting: Script::new(include_str!("lua/put_tenant_setting.lua")),
            delete_tenant_setting: Script::new(include_str!("lua/delete_tenant_setting.lua")),
            take_token: Script::new(include_str!("lua/take_token.lua")),
            try_lease: Script::new(include_str!("lua/try_lease.lua")),
            release_lease: Script::new(include_str!("lua/release_lease.lua")),
            mark_callbacks_clean: Script::new(&format!(
                "{mark_clean}\n{}",
                include_str!("lua/mark_callbacks_clean.lua")
            )),
        }
    }
}

/// A new meeting's placement to confirm (`RedisStore::confirm_placements`): the claim token, the create parameters
/// to keep (JSON) for `ttl`, and the callback data to mark clean.
pub(crate) struct PlacementConfirmation {
    pub(crate) id: String,
    pub(crate) token: String,
    pub(crate) params: String,
    pub(crate) ttl: Duration,
    pub(crate) clean: Option<CallbackUrlsClean>,
}

/// What `RedisStore::meeting_with_server` read: the meeting; for a create, the callback URL mark and the placement
/// made when asked for and the meeting does not exist.
pub(crate) struct MeetingRead {
    pub(crate) placed: Option<PlacedMeeting>,
    pub(crate) mark: Option<CallbackUrlsMark>,
    pub(crate) placed_new: Option<Result<(Server, StoreResult<MeetingPlacement>), SelectError>>,
}

/// How the scripts spell whether the tags are required.
fn required_arg(tags: &TagRequest) -> String {
    if tags.required { "1" } else { "0" }.to_owned()
}

/// The arguments of the prelude's `select_server` after the two prefixes: whether the tags are required, the tags.
fn select_args(tags: &TagRequest) -> Vec<String> {
    let mut args = vec![required_arg(tags)];
    args.extend(tags.tags.iter().cloned());
    args
}

/// The arguments of `meeting_with_server.lua`'s placement of meeting `id`, after the tenant: whether the tags are
/// required, how many there are, the tags, then the claim and the record.
fn placement_args(id: &str, placement: &NewPlacement<'_>) -> Vec<String> {
    let tags = &placement.tags.tags;
    let mut args = vec![required_arg(placement.tags), tags.len().to_string()];
    args.extend(tags.iter().cloned());
    args.extend([
        placement.token.to_owned(),
        millis(placement.claim_for).to_string(),
        ttl_secs(placement.ttl).to_string(),
        placement.moderator_pw.clone().unwrap_or_default(),
        id.to_owned(),
        placement.meeting.tenant_id.clone().unwrap_or_default(),
    ]);
    args.extend(placement.meeting.voice_bridge_candidates.iter().cloned());
    args
}

/// Why a new meeting could not be claimed: none of its `tries` voice bridge candidates was free.
fn no_voice_bridge(meeting_id: &str, tries: usize) -> StoreError {
    StoreError::Conflict(format!(
        "Failed to allocate conference number for meeting {meeting_id} after {tries} tries"
    ))
}

/// The server the prelude's `select_server` picked for `tags`, or why none.
fn picked(reply: ScriptReply<RawServer>, tags: &TagRequest) -> Result<Server, SelectError> {
    match (reply.r.as_str(), reply.s) {
        ("ok", Some(raw)) => Ok(server_from_raw(raw)),
        ("tag", _) => Err(SelectError::TagUnavailable(tags.display())),
        _ => Err(SelectError::NoServers),
    }
}

/// The arguments of `mark_clean.lua`'s function for `clean`: the generation, the tenant id, the mark's TTL.
fn mark_args(clean: &CallbackUrlsClean) -> [String; 3] {
    [
        clean.generation.clone(),
        clean.tenant_id.clone().unwrap_or_default(),
        ttl_secs(CALLBACK_MARK_TTL).to_string(),
    ]
}

/// A callback URL mark from its two fields and whether the callback data is indexed (`Keys::callback_urls_indexed`):
/// no generation yet counts as `0`, and as clean once indexed (no URL was ever written); else clean when `clean` is
/// the generation.
fn mark_of(generation: Option<String>, clean: Option<String>, indexed: bool) -> CallbackUrlsMark {
    let clean = match generation.as_deref() {
        None => indexed,
        Some(generation) => clean.is_some_and(|c| c == generation),
    };
    CallbackUrlsMark {
        generation: Some(generation.unwrap_or_else(|| "0".to_owned())),
        clean,
    }
}

/// A server as the read scripts return it (JSON; every number is the string Redis holds).
#[derive(Debug, Deserialize)]
pub(crate) struct RawServer {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) h: HashMap<String, String>,
    #[serde(default)]
    pub(crate) en: i64,
    pub(crate) sl: Option<String>,
    pub(crate) cl: Option<String>,
    pub(crate) hc: Option<String>,
    pub(crate) uc: Option<String>,
    /// Set when the server was read from `server_load` (available/selected): state forced to enabled, this load.
    pub(crate) forced: Option<String>,
}

#[derive(Deserialize)]
struct ScriptReply<T> {
    r: String,
    s: Option<T>,
}

#[derive(Deserialize)]
struct MeetingReply {
    r: String,
    m: Option<HashMap<String, String>>,
}

#[derive(serde::Serialize, Deserialize)]
struct TokenPayload {
    record_id: String,
    format: String,
}

impl RedisStore {
    /// Connect (and check the server answers) within `op_timeout`.
    pub(crate) async fn connect(
        url: &str,
        namespace: &str,
        op_timeout: Duration,
    ) -> StoreResult<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Backend(format!("redis: invalid REDIS_URL: {e}")))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(op_timeout))
            .set_response_timeout(Some(op_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager =
            ConnectionManager::new_lazy_with_config(client.clone(), manager_config.clone())
                .map_err(|e| backend("connect", e))?;
        let store = Self {
            inner: Arc::new(Inner {
                client,
                manager_config,
                slot: Mutex::new(Slot {
                    generation: 0,
                    manager,
                }),
                op_timeout,
                keys: Keys::new(namespace),
                scripts: Scripts::new(),
            }),
        };
        store
            .run("ping", |mut c| async move {
                redis::cmd("PING").query_async::<String>(&mut c).await
            })
            .await?;
        Ok(store)
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    fn current(&self) -> (u64, ConnectionManager) {
        let slot = self
            .inner
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (slot.generation, slot.manager.clone())
    }

    /// Swap in a fresh (lazily connecting) manager unless another caller already did.
    fn replace(&self, generation: u64) {
        let Ok(manager) = ConnectionManager::new_lazy_with_config(
            self.inner.client.clone(),
            self.inner.manager_config.clone(),
        ) else {
            return;
        };
        let mut slot = self
            .inner
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.generation == generation {
            slot.generation += 1;
            slot.manager = manager;
            tracing::warn!("redis did not answer in time; reconnecting");
        }
    }

    /// Run one operation on the shared connection, bounded by `op_timeout`.
    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> StoreResult<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (generation, manager) = self.current();
        match tokio::time::timeout(self.inner.op_timeout, f(manager)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if e.is_timeout() => {
                self.replace(generation);
                Err(StoreError::Backend(format!(
                    "redis {op}: no answer within {:?}",
                    self.inner.op_timeout
                )))
            }
            Ok(Err(e)) => Err(backend(op, e)),
            Err(_) => {
                self.replace(generation);
                Err(StoreError::Backend(format!(
                    "redis {op}: no answer within {:?}",
                    self.inner.op_timeout
                )))
            }
        }
    }

    /// Run a Lua script with these keys and arguments, bounded like every other operation.
    async fn invoke<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        script: &redis::Script,
        keys: &[String],
        args: &[String],
    ) -> StoreResult<T> {
        self.run(op, |mut c| async move {
            let mut inv = script.prepare_invoke();
            for key in keys {
                inv.key(key);
            }
            for arg in args {
                inv.arg(arg);
            }
            inv.invoke_async::<T>(&mut c).await
        })
        .await
    }

    fn server_keys(&self) -> [String; 4] {
        let k = &self.inner.keys;
        [
            k.servers(),
            k.server_enabled(),
            k.server_load(),
            k.cordoned_server_load(),
        ]
    }

    /// Invoke a server script (prelude conventions: four index keys, two prefixes, then `args`).
    async fn server_script(
        &self,
        op: &'static str,
        script: fn(&Scripts) -> &Script,
        args: Vec<String>,
    ) -> StoreResult<String> {
        let prefixes = [
            self.inner.keys.server_prefix(),
            self.inner.keys.counters_prefix(),
        ];
        let args: Vec<String> = prefixes.into_iter().chain(args).collect();
        let script = script(&self.inner.scripts);
        self.invoke::<String>(op, script, &self.server_keys(), &args)
            .await
    }

    async fn read_servers(&self, mode: &str, id: Option<&str>) -> StoreResult<Vec<Server>> {
        let mut args = vec![mode.to_owned()];
        args.extend(id.map(str::to_owned));
        let json = self
            .server_script("read servers", |s| &s.read_servers, args)
            .await?;
        let raws: Vec<RawServer> = decode_list("read servers", &json)?;
        let mut servers: Vec<Server> = raws.into_iter().map(server_from_raw).collect();
        if mode == "all" {
            // SMEMBERS order is arbitrary; give callers (tables, tests) a stable one.
            servers.sort_by(|a, b| a.id.cmp(&b.id));
        }
        Ok(servers)
    }

    // ----- servers -----

    pub(crate) async fn list_servers(&self) -> StoreResult<Vec<Server>> {
        self.read_servers("all", None).await
    }

    pub(crate) async fn get_server(&self, id: &str) -> StoreResult<Server> {
        self.read_servers("one", Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::NotFound(format!("server {id}")))
    }

    pub(crate) async fn available_servers(&self) -> StoreResult<Vec<Server>> {
        self.read_servers("available", None).await
    }

    pub(crate) async fn add_server(&self, server: NewServer) -> StoreResult<Server> {
        let mut args = vec![server.id.clone(), server.state.as_str().to_owned()];
        let mut field = |k: &str, v: String| {
            args.push(k.to_owned());
            args.push(v);
        };
        field("url", server.url);
        field("secret", server.secret.expose().to_owned());
        if let Some(tag) = server.tag.filter(|t| !t.trim().is_empty()) {
            field("tag", tag);
        }
        field("online", "false".to_owned());
        field("load_multiplier", format_multiplier(server.load_multiplier));
        let json = self
            .server_script("add server", |s| &s.add_server, args)
            .await?;
        let reply: ScriptReply<RawServer> = decode("add server", &json)?;
        match (reply.r.as_str(), reply.s) {
            ("ok", Some(raw)) => Ok(server_from_raw(raw)),
            ("exists", _) => Err(StoreError::Conflict(format!(
                "Server already exists with id '{}'",
                server.id
            ))),
            _ => Err(StoreError::Backend(
                "redis add server: unexpected reply".into(),
            )),
        }
    }

    pub(crate) async fn patch_server(&self, id: &str, patch: ServerPatch) -> StoreResult<Server> {
        let mut args = vec![id.to_owned()];
        args.extend(patch_args(&patch));
        let json = self
            .server_script("patch server", |s| &s.patch_server, args)
            .await?;
        let reply: ScriptReply<RawServer> = decode("patch server", &json)?;
        match (reply.r.as_str(), reply.s) {
            ("ok", Some(raw)) => Ok(server_from_raw(raw)),
            _ => Err(StoreError::NotFound(format!("server {id}"))),
        }
    }

    pub(crate) async fn delete_server(&self, id: &str) -> StoreResult<()> {
        let k = &self.inner.keys;
        let args = [k.server_prefix(), k.counters_prefix(), id.to_owned()];
        let script = &self.inner.scripts.delete_server;
        let removed: i64 = self
            .invoke("delete server", script, &self.server_keys(), &args)
            .await?;
        if removed == 0 {
            return Err(StoreError::NotFound(format!("server {id}")));
        }
        Ok(())
    }

    pub(crate) async fn select_server(&self, tags: &TagRequest) -> Result<Server, SelectError> {
        let json = self
            .server_script("select server", |s| &s.select_server, select_args(tags))
            .await?;
        let reply: ScriptReply<RawServer> = decode("select server", &json)?;
        picked(reply, tags)
    }

    pub(crate) async fn increment_load(&self, id: &str, amount: f64) -> StoreResult<Option<f64>> {
        let bump = self.load_bump(id, amount);
        self.run("increment load", |mut c| async move {
            bump.query_async::<Option<f64>>(&mut c).await
        })
        .await
    }

    /// `increment_load` of several servers in one pipelined round trip (each bump atomic on its own).
    pub(crate) async fn increment_loads(&self, bumps: &[(String, f64)]) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        for (id, amount) in bumps {
            pipe.add_command(self.load_bump(id, *amount)).ignore();
        }
        self.run("increment loads", |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    /// The command adding `amount` to server `id`'s load, only if the server is available (in `server_load`);
    /// it answers the new load, or nil.
    fn load_bump(&self, id: &str, amount: f64) -> redis::Cmd {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(self.inner.keys.server_load())
            .arg("XX")
            .arg("INCR")
            .arg(format_score(amount))
            .arg(id);
        cmd
    }

    async fn hincrby(&self, id: &str, field: &'static str) -> StoreResult<i64> {
        let key = self.inner.keys.counters(id);
        self.run("increment counter", |mut c| async move {
            redis::cmd("HINCRBY")
                .arg(key)
                .arg(field)
                .arg(1)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
    }

    pub(crate) async fn increment_healthy(&self, id: &str) -> StoreResult<i64> {
        self.hincrby(id, "healthy_counter").await
    }

    pub(crate) async fn increment_unhealthy(&self, id: &str) -> StoreResult<i64> {
        self.hincrby(id, "unhealthy_counter").await
    }

    pub(crate) async fn reset_counters(
        &self,
        id: &str,
        healthy: bool,
        unhealthy: bool,
    ) -> StoreResult<()> {
        if !healthy && !unhealthy {
            return Ok(());
        }
        let key = self.inner.keys.counters(id);
        self.run("reset counters", |mut c| async move {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(key);
            if healthy {
                cmd.arg("healthy_counter").arg(0);
            }
            if unhealthy {
                cmd.arg("unhealthy_counter").arg(0);
            }
            cmd.query_async::<()>(&mut c).await
        })
        .await
    }

    // ----- meetings -----

    pub(crate) async fn get_meeting(&self, id: &str) -> StoreResult<Meeting> {
        let key = self.inner.keys.meeting(id);
        let hash: HashMap<String, String> = self
            .run("get meeting", |mut c| async move {
                redis::cmd("HGETALL").arg(key).query_async(&mut c).await
            })
            .await?;
        if hash.is_empty() {
            return Err(StoreError::NotFound(format!("meeting {id}")));
        }
        Ok(meeting_from_hash(id, &hash))
    }

    pub(crate) async fn list_meetings(&self) -> StoreResult<Vec<Meeting>> {
        let keys = &self.inner.keys;
        self.list_records(
            "list meetings",
            keys.meetings(),
            |id| keys.meeting(id),
            meeting_from_hash,
        )
        .await
    }

    pub(crate) async fn find_or_create_meeting(
        &self,
        meeting: NewMeeting,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        self.claim_meeting(meeting, "", Duration::ZERO, ttl).await
    }

    /// `find_or_create_meeting` that also takes the claim `token` (none when empty) on a record it writes.
    pub(crate) async fn claim_meeting(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        let k = &self.inner.keys;
        let keys = [
            k.meeting(&meeting.id),
            k.meetings(),
            k.voice_bridges(),
            k.meeting_claim(&meeting.id),
        ];
        let tenant = meeting.tenant_id.clone().unwrap_or_default();
        let mut args = vec![
            meeting.id.clone(),
            meeting.server_id.clone(),
            meeting.moderator_pw.clone(),
            tenant.clone(),
            ttl_secs(ttl).to_string(),
            token.to_owned(),
            millis(claim_for).to_string(),
        ];
        args.extend(meeting.voice_bridge_candidates.iter().cloned());
        let script = &self.inner.scripts.find_or_create_meeting;
        let json: String = self
            .invoke::<String>("find or create meeting", script, &keys, &args)
            .await?;
        let reply: MeetingReply = decode("find or create meeting", &json)?;
        let record = |h: Option<HashMap<String, String>>| {
            meeting_from_hash(&meeting.id, &h.unwrap_or_default())
        };
        match reply.r.as_str() {
            "created" => Ok(MeetingPlacement::Created(record(reply.m))),
            "existing" => Ok(MeetingPlacement::Existing(record(reply.m))),
            "tenant" => Err(StoreError::Conflict(format!(
                "Couldn't find Meeting with id={} and tenant_id={tenant}",
                meeting.id
            ))),
            _ => Err(no_voice_bridge(
                &meeting.id,
                meeting.voice_bridge_candidates.len(),
            )),
        }
    }

    pub(crate) async fn meeting_state(&self, id: &str) -> StoreResult<Option<MeetingState>> {
        let k = &self.inner.keys;
        let (meeting_key, claim_key) = (k.meeting(id), k.meeting_claim(id));
        let (hash, claim): (HashMap<String, String>, Option<String>) = self
            .run("meeting state", |mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("HGETALL")
                    .arg(meeting_key)
                    .cmd("GET")
                    .arg(claim_key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        if hash.is_empty() {
            return Ok(None);
        }
        Ok(Some(MeetingState {
            meeting: meeting_from_hash(id, &hash),
            claim,
        }))
    }

    /// The meeting with its claim and server; with `for_create` (the creating tenant, and the placement to make
    /// when the meeting does not exist), also its callback URL mark (`callback_urls_mark`) and the placement made
    /// (`place_meeting`), in the same round trip.
    pub(crate) async fn meeting_with_server(
        &self,
        id: &str,
        for_create: Option<(Option<&str>, Option<&NewPlacement<'_>>)>,
    ) -> StoreResult<MeetingRead> {
        /// The script's reply: the meeting's hash (empty when absent), its claim, its server; the mark's
        /// generation and clean fields; the picked server and the record claimed on it (false: none, no voice
        /// bridge was free).
        #[derive(Deserialize)]
        struct Reply {
            #[serde(default)]
            m: HashMap<String, String>,
            c: Option<String>,
            s: Option<RawServer>,
            g: Option<String>,
            cl: Option<String>,
            #[serde(default)]
            ix: i64,
            p: Option<ScriptReply<RawServer>>,
            n: Option<Claimed>,
        }
        /// The record claimed for a new meeting, or anything else (`false`) when no voice bridge was free.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Claimed {
            Record(HashMap<String, String>),
            NoVoiceBridge(serde::de::IgnoredAny),
        }
        let k = &self.inner.keys;
        let mut keys: Vec<String> = self
            .server_keys()
            .into_iter()
            .chain([k.meeting(id), k.meeting_claim(id)])
            .collect();
        let mut args = vec![k.server_prefix(), k.counters_prefix()];
        let mut place = None;
        if let Some((tenant_id, placement)) = for_create {
            keys.extend([k.callback_urls(id), k.callback_urls_indexed()]);
            args.push(tenant_id.unwrap_or_default().to_owned());
            if let Some(placement) = placement {
                keys.extend([k.meetings(), k.voice_bridges()]);
                args.extend(placement_args(id, placement));
                place = Some(placement);
            }
        }
        let script = &self.inner.scripts.meeting_with_server;
        let json: String = self
            .invoke("meeting with server", script, &keys, &args)
            .await?;
        let reply: Reply = decode("meeting with server", &json)?;
        let mark = for_create.map(|_| mark_of(reply.g, reply.cl, reply.ix == 1));
        let placed_new = reply.p.zip(place).map(|(p, placement)| {
            let server = picked(p, placement.tags)?;
            let claimed = match reply.n {
                Some(Claimed::Record(hash)) => {
                    Ok(MeetingPlacement::Created(meeting_from_hash(id, &hash)))
                }
                _ => Err(no_voice_bridge(
                    id,
                    placement.meeting.voice_bridge_candidates.len(),
                )),
            };
            Ok((server, claimed))
        });
        if reply.m.is_empty() {
            return Ok(MeetingRead {
                placed: None,
                mark,
                placed_new,
            });
        }
        let placed = PlacedMeeting {
            state: MeetingState {
                meeting: meeting_from_hash(id, &reply.m),
                claim: reply.c,
            },
            server: reply.s.map(server_from_raw),
        };
        Ok(MeetingRead {
            placed: Some(placed),
            mark,
            placed_new,
        })
    }

    pub(crate) async fn delete_meeting(&self, id: &str) -> StoreResult<bool> {
        Ok(self.delete_meeting_script(id, "").await? > 0)
    }

    pub(crate) async fn release_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        Ok(self.delete_meeting_script(id, token).await? >= 0)
    }

    /// The delete script: -1 when `token` is given and does not hold the claim, else whether the record existed.
    async fn delete_meeting_script(&self, id: &str, token: &str) -> StoreResult<i64> {
        let k = &self.inner.keys;
        let keys = [
            k.meeting(id),
            k.meetings(),
            k.voice_bridges(),
            k.meeting_claim(id),
            k.meeting_create_params(id),
        ];
        let script = &self.inner.scripts.delete_meeting;
        self.invoke(
            "delete meeting",
            script,
            &keys,
            &[id.to_owned(), token.to_owned()],
        )
        .await
    }

    pub(crate) async fn confirm_meeting(&self, id: &str, token: &str) -> StoreResult<bool> {
        self.settle_claim(id, &[token.to_owned(), "confirm".to_owned()])
            .await
    }

    /// Confirm new meetings' placements in one round trip (`confirm_placements.lua`): per placement, whether its
    /// token held the claim and the record exists, or the error that stopped its confirmation alone. The create
    /// parameters, and the callback URL mark when given, are written either way.
    pub(crate) async fn confirm_placements(
        &self,
        placements: Vec<PlacementConfirmation>,
    ) -> StoreResult<Vec<StoreResult<bool>>> {
        let k = &self.inner.keys;
        let count = placements.len();
        let mut keys = Vec::with_capacity(4 * count);
        let mut args = Vec::with_capacity(6 * count);
        for p in placements {
            // The mark of the callback data `clean` was read from (the create's meetingID, as the record's).
            let marked = p.clean.as_ref().map_or(&p.id, |clean| &clean.meeting_id);
            keys.extend([
                k.meeting(&p.id),
                k.meeting_claim(&p.id),
                k.meeting_create_params(&p.id),
                k.callback_urls(marked),
            ]);
            args.extend([p.token, p.params, ttl_secs(p.ttl).to_string()]);
            args.extend(p.clean.as_ref().map_or_else(Default::default, mark_args));
        }
        let script = &self.inner.scripts.confirm_placements;
        let done: Vec<redis::Value> = self
            .invoke("confirm placements", script, &keys, &args)
            .await?;
        if done.len() != count {
            return Err(backend(
                "confirm placements",
                format!("{} answers for {count} placements", done.len()),
            ));
        }
        Ok(done
            .into_iter()
            .map(|answer| match answer {
                redis::Value::Int(done) => Ok(done == 1),
                redis::Value::BulkString(error) => Err(backend(
                    "confirm placement",
                    String::from_utf8_lossy(&error),
                )),
                other => Err(backend(
                    "confirm placement",
                    format!("unexpected answer {other:?}"),
                )),
            })
            .collect())
    }

    pub(crate) async fn move_meeting(
        &self,
        id: &str,
        token: &str,
        server_id: &str,
        moderator_pw: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        let args = [
            token.to_owned(),
            "move".to_owned(),
            server_id.to_owned(),
            moderator_pw.to_owned(),
            millis(claim_for).to_string(),
        ];
        self.settle_claim(id, &args).await
    }

    pub(crate) async fn take_over_meeting(
        &self,
        id: &str,
        from_server: &str,
        token: &str,
        claim_for: Duration,
    ) -> StoreResult<bool> {
        let args = [
            token.to_owned(),
            "takeover".to_owned(),
            from_server.to_owned(),
            millis(claim_for).to_string(),
        ];
        self.settle_claim(id, &args).await
    }

    pub(crate) async fn put_create_params(
        &self,
        id: &str,
        params: &CreateParams,
        ttl: Duration,
    ) -> StoreResult<()> {
        let key = self.inner.keys.meeting_create_params(id);
        let value = serde_json::to_string(params)
            .map_err(|e| StoreError::Backend(format!("create params: {e}")))?;
        let secs = ttl_secs(ttl);
        self.run("put create params", |mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("EX")
                .arg(secs)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    pub(crate) async fn get_create_params(&self, id: &str) -> StoreResult<Option<CreateParams>> {
        let (meeting_key, key) = (
            self.inner.keys.meeting(id),
            self.inner.keys.meeting_create_params(id),
        );
        let (exists, value): (bool, Option<String>) = self
            .run("get create params", |mut c| async move {
                redis::pipe()
                    .cmd("EXISTS")
                    .arg(meeting_key)
                    .cmd("GET")
                    .arg(key)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        match value.filter(|_| exists) {
            Some(json) => decode("create params", &json).map(Some),
            None => Ok(None),
        }
    }

    async fn settle_claim(&self, id: &str, args: &[String]) -> StoreResult<bool> {
        let k = &self.inner.keys;
        let keys = [k.meeting(id), k.meeting_claim(id)];
        let script = &self.inner.scripts.settle_claim;
        let done: i64 = self.invoke("settle claim", script, &keys, args).await?;
        Ok(done == 1)
    }

    pub(crate) async fn record_abandoned(&self, placement: AbandonedPlacement) -> StoreResult<()> {
        let key = self.inner.keys.abandoned_placements();
        let field = abandoned_field(&placement.meeting_id, &placement.server_id);
        let value =
            serde_json::json!({ "pw": placement.moderator_pw, "at": placement.at_ms }).to_string();
        self.run("record abandoned placement", |mut c| async move {
            redis::cmd("HSET")
                .arg(key)
                .arg(field)
                .arg(value)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    pub(crate) async fn list_abandoned(&self) -> StoreResult<Vec<AbandonedPlacement>> {
        #[derive(Deserialize)]
        struct Value {
            pw: String,
            at: i64,
        }
        let key = self.inner.keys.abandoned_placements();
        let entries: Vec<(String, String)> = self
            .run("list abandoned placements", |mut c| async move {
                redis::cmd("HGETALL").arg(key).query_async(&mut c).await
            })
            .await?;
        let mut placements = Vec::with_capacity(entries.len());
        for (field, value) in entries {
            // Entries that do not parse were not written by us; skip them rather than fail the poller.
            let (Ok((meeting_id, server_id)), Ok(value)) = (
                serde_json::from_str::<(String, String)>(&field),
                serde_json::from_str::<Value>(&value),
            ) else {
                continue;
            };
            placements.push(AbandonedPlacement {
                meeting_id,
                server_id,
                moderator_pw: value.pw,
                at_ms: value.at,
            });
        }
        placements.sort_by(|a, b| (a.at_ms, &a.meeting_id).cmp(&(b.at_ms, &b.meeting_id)));
        Ok(placements)
    }

    pub(crate) async fn forget_abandoned(
        &self,
        meeting_id: &str,
        server_id: &str,
    ) -> StoreResult<()> {
        let key = self.inner.keys.abandoned_placements();
        let field = abandoned_field(meeting_id, server_id);
        self.run("forget abandoned placement", |mut c| async move {
            redis::cmd("HDEL")
                .arg(key)
                .arg(field)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    pub(crate) async fn meeting_by_voice_bridge(&self, voice_bridge: &str) -> StoreResult<Meeting> {
        let key = self.inner.keys.voice_bridges();
        let vb = voice_bridge.to_owned();
        let id: Option<String> = self
            .run("meeting by voice bridge", |mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg(vb)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let not_found =
            || StoreError::NotFound(format!("meeting with voice bridge {voice_bridge}"));
        let id = id.ok_or_else(not_found)?;
        match self.get_meeting(&id).await {
            Err(StoreError::NotFound(_)) => Err(not_found()),
            other => other,
        }
    }

    pub(crate) async fn refresh_meetings(&self, ids: &[String], ttl: Duration) -> StoreResult<()> {
        let secs = ttl_secs(ttl);
        for chunk in ids.chunks(BATCH) {
            let keys: Vec<String> = chunk
                .iter()
                .flat_map(|id| {
                    [
                        self.inner.keys.meeting(id),
                        self.inner.keys.meeting_create_params(id),
                    ]
                })
                .collect();
            self.run("refresh meetings", |mut c| async move {
                let mut pipe = redis::pipe();
                for k in &keys {
                    pipe.cmd("EXPIRE").arg(k).arg(secs).ignore();
                }
                pipe.query_async::<()>(&mut c).await
            })
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn clean_orphans(&self) -> StoreResult<u64> {
        let k = &self.inner.keys;
        let mut removed = 0u64;
        let ids = self.smembers("clean orphans", k.meetings()).await?;
        for chunk in ids.chunks(BATCH) {
            let mut args = vec![k.meeting_prefix(), "m".to_owned()];
            args.extend(chunk.iter().cloned());
            removed += self.clean_batch(args).await?;
        }
        let vbk = k.voice_bridges();
        let bridges: Vec<(String, String)> = self
            .run("clean orphans", |mut c| async move {
                redis::cmd("HGETALL").arg(vbk).query_async(&mut c).await
            })
            .await?;
        for chunk in bridges.chunks(BATCH) {
            let mut args = vec![k.meeting_prefix(), "v".to_owned()];
            for (vb, id) in chunk {
                args.push(vb.clone());
                args.push(id.clone());
            }
            removed += self.clean_batch(args).await?;
        }
        Ok(removed)
    }

    async fn clean_batch(&self, args: Vec<String>) -> StoreResult<u64> {
        let keys = [self.inner.keys.meetings(), self.inner.keys.voice_bridges()];
        let script = &self.inner.scripts.clean_orphans;
        let n: i64 = self
            .invoke::<i64>("clean orphans", script, &keys, &args)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    // ----- tenants -----

    pub(crate) async fn list_tenants(&self) -> StoreResult<Vec<Tenant>> {
        let keys = &self.inner.keys;
        self.list_records(
            "list tenants",
            keys.tenants(),
            |id| keys.tenant(id),
            tenant_from_hash,
        )
        .await
    }

    pub(crate) async fn get_tenant(&self, id: &str) -> StoreResult<Tenant> {
        let key = self.inner.keys.tenant(id);
        let hash: HashMap<String, String> = self
            .run("get tenant", |mut c| async move {
                redis::cmd("HGETALL").arg(key).query_async(&mut c).await
            })
            .await?;
        if hash.is_empty() {
            return Err(StoreError::NotFound(format!("tenant {id}")));
        }
        Ok(tenant_from_hash(id, &hash))
    }

    pub(crate) async fn get_tenant_by_name(&self, name: &str) -> StoreResult<Tenant> {
        let key = self.inner.keys.tenant_name(name);
        let id: Option<String> = self
            .run("get tenant by name", |mut c| async move {
                redis::cmd("HGET")
                    .arg(key)
                    .arg("id")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let not_found = || StoreError::NotFound(format!("tenant named {name}"));
        let id = id.ok_or_else(not_found)?;
        match self.get_tenant(&id).await {
            Err(StoreError::NotFound(_)) => Err(not_found()),
            other => other,
        }
    }

    async fn save_tenant(&self, tenant: &Tenant, mode: &'static str) -> StoreResult<String> {
        let k = &self.inner.keys;
        let keys = [
            k.tenants(),
            k.tenant(&tenant.id),
            k.tenant_name(&tenant.name),
        ];
        let (pairs, blanks) = tenant_fields(tenant);
        let mut args = vec![
            tenant.id.clone(),
            mode.to_owned(),
            k.tenant_name(""),
            (pairs.len() / 2).to_string(),
        ];
        args.extend(pairs);
        args.extend(blanks);
        let script = &self.inner.scripts.save_tenant;
        self.invoke::<String>("save tenant", script, &keys, &args)
            .await
    }

    pub(crate) async fn add_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        match self.save_tenant(&tenant, "add").await?.as_str() {
            "ok" => self.get_tenant(&tenant.id).await,
            _ => Err(StoreError::Conflict(format!(
                "Tenant already exists with id '{}'",
                tenant.id
            ))),
        }
    }

    pub(crate) async fn update_tenant(&self, tenant: Tenant) -> StoreResult<Tenant> {
        match self.save_tenant(&tenant, "update").await?.as_str() {
            "ok" => self.get_tenant(&tenant.id).await,
            _ => Err(StoreError::NotFound(format!("tenant {}", tenant.id))),
        }
    }

    pub(crate) async fn delete_tenant(&self, id: &str) -> StoreResult<()> {
        let k = &self.inner.keys;
        let keys = [k.tenants(), k.tenant(id)];
        let args = [id.to_owned(), k.tenant_name("")];
        let script = &self.inner.scripts.delete_tenant;
        let n: i64 = self
            .invoke::<i64>("delete tenant", script, &keys, &args)
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("tenant {id}")));
        }
        Ok(())
    }

    pub(crate) async fn list_tenant_settings(
        &self,
        tenant_id: &str,
    ) -> StoreResult<Vec<TenantSetting>> {
        let keys = &self.inner.keys;
        self.list_records(
            "list tenant settings",
            keys.tenant_settings(tenant_id),
            |id| keys.tenant_setting(id),
            |id, hash| setting_from_hash(id, tenant_id, hash),
        )
        .await
    }

    pub(crate) async fn put_tenant_setting(
        &self,
        setting: TenantSetting,
    ) -> StoreResult<TenantSetting> {
        let k = &self.inner.keys;
        let keys = [
            k.tenant_setting(&setting.id),
            k.tenant_settings(&setting.tenant_id),
        ];
        let args = [
            setting.id.clone(),
            setting.tenant_id.clone(),
            setting.param.clone(),
            setting.value.clone(),
            if setting.override_value {
                "true"
            } else {
                "false"
            }
            .to_owned(),
            k.tenant_settings(""),
        ];
        let script = &self.inner.scripts.put_tenant_setting;
        self.invoke::<i64>("put tenant setting", script, &keys, &args)
            .await?;
        Ok(setting)
    }

    pub(crate) async fn delete_tenant_setting(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        let k = &self.inner.keys;
        let keys = [k.tenant_setting(id), k.tenant_settings(tenant_id)];
        let args = [id.to_owned(), tenant_id.to_owned()];
        let script = &self.inner.scripts.delete_tenant_setting;
        let n: i64 = self
            .invoke::<i64>("delete tenant setting", script, &keys, &args)
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("tenant setting {id}")));
        }
        Ok(())
    }

    // ----- tokens, leases, health -----

    /// `(tenant_id, meeting_id)`'s callback URL mark (`Keys::callback_urls`).
    pub(crate) async fn callback_urls_mark(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<CallbackUrlsMark> {
        let k = &self.inner.keys;
        let (key, indexed) = (k.callback_urls(meeting_id), k.callback_urls_indexed());
        let tenant = tenant_id.unwrap_or_default();
        let fields = [format!("gen:{tenant}"), format!("clean:{tenant}")];
        let ((generation, clean), indexed): ((Option<String>, Option<String>), bool) = self
            .run("read callback URL mark", |mut c| async move {
                redis::pipe()
                    .cmd("HMGET")
                    .arg(key)
                    .arg(&fields)
                    .cmd("EXISTS")
                    .arg(indexed)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(mark_of(generation, clean, indexed))
    }

    /// Callback URLs of `(tenant_id, meeting_id)` were written: whatever mark said they were none is void.
    pub(crate) async fn bump_callback_urls(
        &self,
        tenant_id: Option<&str>,
        meeting_id: &str,
    ) -> StoreResult<()> {
        self.bump_callback_urls_of(&[(tenant_id.map(str::to_owned), meeting_id.to_owned())])
            .await
    }

    /// `bump_callback_urls` for each `(tenant id, meeting id)`, in one round trip. The marks lose their TTL: a
    /// generation lives as long as the URLs it counts may (`mark_clean.lua`).
    pub(crate) async fn bump_callback_urls_of(
        &self,
        data: &[(Option<String>, String)],
    ) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (tenant_id, meeting_id) in data {
            let key = self.inner.keys.callback_urls(meeting_id);
            let field = format!("gen:{}", tenant_id.as_deref().unwrap_or_default());
            pipe.cmd("HINCRBY").arg(&key).arg(field).arg(1).ignore();
            pipe.cmd("PERSIST").arg(key).ignore();
        }
        self.run("bump callback URL mark", |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    /// What `Keys::callback_urls_indexed` holds (the run id of the Redis that was indexed; absent: not indexed),
    /// and the run id of the Redis answering now (`INFO server`; empty when it does not say): they differ once
    /// Redis restarted since, perhaps from a snapshot older than some generations.
    pub(crate) async fn callback_index_state(&self) -> StoreResult<(Option<String>, String)> {
        let key = self.inner.keys.callback_urls_indexed();
        let (indexed, info): (Option<String>, String) = self
            .run("read callback URL index", |mut c| async move {
                redis::pipe()
                    .cmd("GET")
                    .arg(key)
                    .cmd("INFO")
                    .arg("server")
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let run_id = info
            .lines()
            .find_map(|line| line.strip_prefix("run_id:"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        Ok((indexed, run_id))
    }

    /// Record that every callback data row with URLs has its generation in the Redis of run id `run_id`.
    pub(crate) async fn set_callback_urls_indexed(&self, run_id: &str) -> StoreResult<()> {
        let key = self.inner.keys.callback_urls_indexed();
        self.run("write callback URL index", |mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(run_id)
                .query_async(&mut c)
                .await
        })
        .await
    }

    /// Forget the index recorded for run id `run_id` (unless someone indexed again meanwhile): creates read the
    /// callback data again until it is indexed anew.
    pub(crate) async fn drop_callback_urls_index(&self, run_id: &str) -> StoreResult<()> {
        let key = self.inner.keys.callback_urls_indexed();
        self.delete_if_holds("drop callback URL index", key, run_id)
            .await
    }

    /// Delete the string `key` if it holds `value` (`release_lease.lua`).
    async fn delete_if_holds(&self, op: &'static str, key: String, value: &str) -> StoreResult<()> {
        let value = value.to_owned();
        let script = &self.inner.scripts.release_lease;
        self.run(op, |mut c| async move {
            script.key(key).arg(value).invoke_async::<i64>(&mut c).await
        })
        .await?;
        Ok(())
    }

    /// Mark the callback data `clean` names free of URLs at its generation (as read before it was looked at in
    /// PostgreSQL), unless URLs were written since (then the mark stays as it is).
    pub(crate) async fn mark_callback_urls_clean(
        &self,
        clean: &CallbackUrlsClean,
    ) -> StoreResult<()> {
        let keys = [self.inner.keys.callback_urls(&clean.meeting_id)];
        let args = mark_args(clean);
        let script = &self.inner.scripts.mark_callbacks_clean;
        self.invoke::<i64>("mark callback URLs clean", script, &keys, &args)
            .await
            .map(drop)
    }

    pub(crate) async fn put_playback_token(
        &self,
        token: &str,
        record_id: &str,
        format: &str,
        ttl: Duration,
    ) -> StoreResult<()> {
        let key = self.inner.keys.protector_token(token);
        let payload = serde_json::to_string(&TokenPayload {
            record_id: record_id.to_owned(),
            format: format.to_owned(),
        })
        .map_err(|e| StoreError::Backend(format!("token payload: {e}")))?;
        let secs = ttl_secs(ttl);
        self.run("put playback token", |mut c| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(payload)
                .arg("EX")
                .arg(secs)
                .query_async::<()>(&mut c)
                .await
        })
        .await
    }

    pub(crate) async fn take_playback_token(
        &self,
        token: &str,
    ) -> StoreResult<Option<(String, String)>> {
        let key = self.inner.keys.protector_token(token);
        let script = &self.inner.scripts.take_token;
        let value: Option<String> = self
            .run("take playback token", |mut c| async move {
                script.key(key).invoke_async(&mut c).await
            })
            .await?;
        let Some(value) = value else { return Ok(None) };
        let payload: TokenPayload = serde_json::from_str(&value)
            .map_err(|e| StoreError::Backend(format!("playback token payload: {e}")))?;
        Ok(Some((payload.record_id, payload.format)))
    }

    pub(crate) async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let key = self.inner.keys.lease(name);
        let holder = holder.to_owned();
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let script = &self.inner.scripts.try_lease;
        let got: i64 = self
            .run("try lease", |mut c| async move {
                script
                    .key(key)
                    .arg(holder)
                    .arg(ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(got == 1)
    }

    pub(crate) async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        let key = self.inner.keys.lease(name);
        self.delete_if_holds("release lease", key, holder).await
    }

    pub(crate) async fn missing_meetings(&self) -> StoreResult<HashMap<String, i64>> {
        let key = self.inner.keys.missing_meetings();
        self.run("missing meetings", |mut c| async move {
            redis::cmd("HGETALL").arg(key).query_async(&mut c).await
        })
        .await
    }

    pub(crate) async fn update_missing_meetings(
        &self,
        mark: &[(String, i64)],
        clear: &[String],
    ) -> StoreResult<()> {
        if mark.is_empty() && clear.is_empty() {
            return Ok(());
        }
        let key = self.inner.keys.missing_meetings();
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !mark.is_empty() {
            pipe.cmd("HSET").arg(&key).arg(mark).ignore();
        }
        if !clear.is_empty() {
            pipe.cmd("HDEL").arg(&key).arg(clear).ignore();
        }
        self.run("update missing meetings", |mut c| async move {
            pipe.query_async::<()>(&mut c).await
        })
        .await
    }

    pub(crate) async fn health_check(&self) -> StoreResult<()> {
        let key = self.inner.keys.health_check();
        let value: Option<String> = self
            .run("health check", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg("true")
                    .arg("EX")
                    .arg(10)
                    .query_async::<()>(&mut c)
                    .await?;
                redis::cmd("GET").arg(&key).query_async(&mut c).await
            })
            .await?;
        if value.as_deref() == Some("true") {
            Ok(())
        } else {
            Err(StoreError::Backend(
                "redis health check: value not read back".into(),
            ))
        }
    }

    // ----- helpers -----

    async fn smembers(&self, op: &'static str, key: String) -> StoreResult<Vec<String>> {
        self.run(op, |mut c| async move {
            redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await
        })
        .await
    }

    /// Every record whose id is a member of `set_key`, ordered by id: one SMEMBERS, then pipelined HGETALLs. Ids
    /// without a hash (expired, or left behind by a half-finished delete) are skipped.
    async fn list_records<T>(
        &self,
        op: &'static str,
        set_key: String,
        record_key: impl Fn(&str) -> String,
        from_hash: impl Fn(&str, &HashMap<String, String>) -> T,
    ) -> StoreResult<Vec<T>> {
        let mut ids = self.smembers(op, set_key).await?;
        ids.sort();
        let hashes = self
            .hgetall_many(op, ids.iter().map(|id| record_key(id)).collect())
            .await?;
        Ok(ids
            .iter()
            .zip(hashes)
            .filter(|(_, hash)| !hash.is_empty())
            .map(|(id, hash)| from_hash(id, &hash))
            .collect())
    }

    async fn hgetall_many(
        &self,
        op: &'static str,
        keys: Vec<String>,
    ) -> StoreResult<Vec<HashMap<String, String>>> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH) {
            let part: Vec<HashMap<String, String>> = self
                .run(op, |mut c| async move {
                    let mut pipe = redis::pipe();
                    for k in chunk {
                        pipe.cmd("HGETALL").arg(k);
                    }
                    pipe.query_async(&mut c).await
                })
                .await?;
            out.extend(part);
        }
        Ok(out)
    }
}

fn backend(op: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("redis {op}: {e}"))
}

fn decode<T: DeserializeOwned>(op: &str, json: &str) -> StoreResult<T> {
    serde_json::from_str(json).map_err(|e| backend(op, format!("bad script reply: {e}")))
}

/// cjson encodes an empty Lua table as `{}`; an empty list is meant.
fn decode_list<T: DeserializeOwned>(op: &str, json: &str) -> StoreResult<Vec<T>> {
    if json.trim() == "{}" {
        return Ok(Vec::new());
    }
    decode(op, json)
}

/// The `abandoned_placements` field of one placement (JSON, so any id round-trips).
fn abandoned_field(meeting_id: &str, server_id: &str) -> String {
    serde_json::json!([meeting_id, server_id]).to_string()
}

/// Milliseconds for PX/PEXPIRE (at least 1: Redis refuses 0).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Seconds for EXPIRE/EX: rounded up, at least 1.
pub(crate) fn ttl_secs(ttl: Duration) -> u64 {
    let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    secs.max(1)
}

/// `load_multiplier` as the original stores it: `"1.0"`, `"2.5"`.
pub(crate) fn format_multiplier(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A score argument for ZADD/ZINCRBY.
pub(crate) fn format_score(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+inf" } else { "-inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

fn parse_score(value: Option<&str>) -> Option<f64> {
    value.and_then(|v| match v {
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        v => v.parse().ok(),
    })
}

fn parse_int(value: Option<&String>) -> i64 {
    value
        .and_then(|v| {
            v.trim()
                .parse::<i64>()
                .ok()
                .or_else(|| v.trim().parse::<f64>().ok().map(|f| f as i64))
        })
        .unwrap_or(0)
}

/// Build a `Server` the way the original's `find` does, from what the read script returned.
pub(crate) fn server_from_raw(raw: RawServer) -> Server {
    let h = &raw.h;
    let stored_state = h.get("state").and_then(|s| ServerState::parse(s));
    let (mut state, mut load) = match stored_state {
        Some(ServerState::Enabled) => (ServerState::Enabled, parse_score(raw.sl.as_deref())),
        Some(ServerState::Cordoned) => (ServerState::Cordoned, parse_score(raw.cl.as_deref())),
        Some(ServerState::Disabled) => (ServerState::Disabled, None),
        None if raw.en == 1 => (ServerState::Enabled, parse_score(raw.sl.as_deref())),
        None => (ServerState::Disabled, None),
    };
    if let Some(forced) = raw.forced.as_deref() {
        state = ServerState::Enabled;
        load = parse_score(Some(forced));
    }
    Server {
        url: h.get("url").cloned().unwrap_or_default(),
        secret: Secret::new(h.get("secret").cloned().unwrap_or_default()),
        tag: h.get("tag").filter(|t| !t.is_empty()).cloned(),
        state,
        load,
        online: h.get("online").is_some_and(|v| v == "true"),
        load_multiplier: h
            .get("load_multiplier")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(1.0),
        healthy_counter: parse_int(raw.hc.as_ref()),
        unhealthy_counter: parse_int(raw.uc.as_ref()),
        stats: ServerStats {
            meetings: parse_int(h.get("meetings")),
            users: parse_int(h.get("users")),
            largest_meeting: parse_int(h.get("largest_meeting")),
            videos: parse_int(h.get("videos")),
        },
        bbb_version: h.get("bbb_version").cloned(),
        id: raw.id,
    }
}

/// The script arguments of a patch: field/value pairs, with `@state` and `@load` for index maintenance.
pub(crate) fn patch_args(patch: &ServerPatch) -> Vec<String> {
    let mut args = Vec::new();
    let mut push = |k: &str, v: String| {
        args.push(k.to_owned());
        args.push(v);
    };
    if let Some(url) = &patch.url {
        push("url", url.clone());
    }
    if let Some(secret) = &patch.secret {
        push("secret", secret.expose().to_owned());
    }
    if let Some(tag) = &patch.tag {
        // Blank tags are removed (HDEL), as the original does.
        push(
            "tag",
            tag.as_deref().map(str::trim).unwrap_or_default().to_owned(),
        );
    }
    if let Some(m) = patch.load_multiplier {
        push("load_multiplier", format_multiplier(m));
    }
    if let Some(online) = patch.online {
        push("online", if online { "true" } else { "false" }.to_owned());
    }
    if let Some(stats) = patch.stats {
        push("meetings", stats.meetings.to_string());
        push("users", stats.users.to_string());
        push("largest_meeting", stats.largest_meeting.to_string());
        push("videos", stats.videos.to_string());
    }
    if let Some(v) = &patch.bbb_version {
        push("bbb_version", v.clone());
    }
    if let Some(state) = patch.state {
        push("@state", state.as_str().to_owned());
    }
    if let Some(load) = patch.load {
        push("@load", load.map(format_score).unwrap_or_default());
    }
    args
}

pub(crate) fn meeting_from_hash(id: &str, h: &HashMap<String, String>) -> Meeting {
    let field = |k: &str| h.get(k).cloned().unwrap_or_default();
    Meeting {
        id: id.to_owned(),
        server_id: field("server_id"),
        moderator_pw: field("moderator_pw"),
        voice_bridge: field("voice_bridge"),
        tenant_id: h.get("tenant_id").filter(|t| !t.is_empty()).cloned(),
    }
}

pub(crate) fn tenant_from_hash(id: &str, h: &HashMap<String, String>) -> Tenant {
    let opt = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
    Tenant {
        id: id.to_owned(),
        name: h.get("name").cloned().unwrap_or_default(),
        secrets: h
            .get("secrets")
            .map(|s| {
                s.split(':')
                    .filter(|p| !p.is_empty())
                    .map(Secret::from)
                    .collect()
            })
            .unwrap_or_default(),
        lrs_endpoint: opt("lrs_endpoint"),
        lrs_username: opt("lrs_username"),
        lrs_password: opt("lrs_password").map(Secret::from),
        kc_token_url: opt("kc_token_url"),
        kc_client_id: opt("kc_client_id"),
        kc_client_secret: opt("kc_client_secret").map(Secret::from),
        kc_username: opt("kc_username"),
        kc_password: opt("kc_password").map(Secret::from),
    }
}

/// Field/value pairs to write and names of fields without a value.
pub(crate) fn tenant_fields(t: &Tenant) -> (Vec<String>, Vec<String>) {
    let secrets = t
        .secrets
        .iter()
        .map(Secret::expose)
        .collect::<Vec<_>>()
        .join(":");
    let optional: [(&str, Option<&str>); 8] = [
        ("lrs_endpoint", t.lrs_endpoint.as_deref()),
        ("lrs_username", t.lrs_username.as_deref()),
        ("lrs_password", t.lrs_password.as_ref().map(Secret::expose)),
        ("kc_token_url", t.kc_token_url.as_deref()),
        ("kc_client_id", t.kc_client_id.as_deref()),
        (
            "kc_client_secret",
            t.kc_client_secret.as_ref().map(Secret::expose),
        ),
        ("kc_username", t.kc_username.as_deref()),
        ("kc_password", t.kc_password.as_ref().map(Secret::expose)),
    ];
    let mut pairs = vec![
        "name".to_owned(),
        t.name.clone(),
        "secrets".to_owned(),
        secrets,
    ];
    let mut blanks = Vec::new();
    for (field, value) in optional {
        match value {
            Some(v) => {
                pairs.push(field.to_owned());
                pairs.push(v.to_owned());
            }
            None => blanks.push(field.to_owned()),
        }
    }
    (pairs, blanks)
}

pub(crate) fn setting_from_hash(
    id: &str,
    tenant_id: &str,
    h: &HashMap<String, String>,
) -> TenantSetting {
    TenantSetting {
        id: id.to_owned(),
        tenant_id: h
            .get("tenant_id")
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| tenant_id.to_owned()),
        param: h.get("param").cloned().unwrap_or_default(),
        value: h.get("value").cloned().unwrap_or_default(),
        override_value: h.get("override").is_some_and(|v| v == "true"),
    }
}
