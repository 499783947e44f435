//! Group commit of the API's hot writes: new meetings' placements (and claims of a record on a given server),
//! their confirmations and load bumps.
//!
//! Every such write needs the process's only writer connection, and one by one each is a handful of trips through
//! that connection's worker thread (begin, read, write, commit), every trip a hop to that thread and back through
//! the async runtime, while every other write of the process waits; and each statement compiled anew costs that
//! thread more than running it. Here a write that arrives while a batch is being committed waits for the next
//! batch, which carries every write queued meanwhile in one transaction of two trips, whatever its size: one
//! script that begins the transaction and reads what the batch needs (the available servers, the placed meetings'
//! records, the holders of their candidate voice bridge numbers); one script writing every change and committing,
//! its statements fed with JSON lists so that its text never changes and it is compiled once per connection. A
//! batch of confirmations only, which reads nothing, begins, writes and commits in one trip.
//!
//! Nothing changes for the callers: each write returns once its batch is committed, with the answer it would have
//! had if the batch's writes had run one by one in the order they arrived. The batch decides placements and bumps
//! in that order on what it read (the write lock is held from the read on, so nothing else changes it), each
//! seeing the loads, records and numbers the earlier ones left; a confirmation's answer is whether the script
//! found its claim. Nothing changes across processes either: the batch holds the database's write lock from its
//! first read to its commit, as a single placement did. A batch that fails answers every write in it with the
//! error, and changes nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use sqlx::Row;
use tokio::sync::oneshot;

use crate::domain::{Meeting, MeetingPlacement, NewMeeting, Server, TagRequest};
use crate::storage::sqlite::meetings::{existing_placement, free_number, meeting_from_row};
use crate::storage::sqlite::servers::{AVAILABLE, SERVER_COLUMNS, choose_server, server_from_row};
use crate::storage::sqlite::{SqliteStore, backend, expiry_ms, json_list, now_ms};
use crate::storage::{SelectError, StoreError, StoreResult};

/// Most writes in one transaction: bounds a batch's script and the wait of its last write.
const MAX_BATCH: usize = 64;
/// Most batches committed in a row without handing the writer connection back to its pool.
const HOLD_BATCHES: usize = 8;

/// What a placement answers (`MeetingStore::place_meeting`).
pub(super) type PlaceAnswer = Result<(Server, StoreResult<MeetingPlacement>), SelectError>;

/// The moderator password of a new meeting on the server chosen for it.
pub(super) type PasswordFor = Box<dyn FnOnce(&Server) -> String + Send>;

/// The writes waiting for their group commit, and whether a commit task is running.
#[derive(Debug, Default)]
pub(super) struct WriteQueue {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Write>,
    /// A task is committing (and will take `pending` next).
    flushing: bool,
}

/// A confirmation's create parameters: the parameters as a JSON list, the body, the server tag.
pub(super) type ParamsRow = (String, Option<String>, Option<String>);

enum Write {
    Bump {
        server_id: String,
        amount: f64,
        /// None: written behind, nobody waits (`bump_load_behind`).
        reply: Option<oneshot::Sender<StoreResult<Option<f64>>>>,
    },
    Confirm {
        id: String,
        token: String,
        params: Option<ParamsRow>,
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    Place {
        tags: TagRequest,
        meeting: NewMeeting,
        moderator_pw: PasswordFor,
        claim: Claim,
        reply: oneshot::Sender<PlaceAnswer>,
    },
    /// `claim_meeting`: the record on the server it names, no server chosen, no load bumped.
    Claim {
        meeting: NewMeeting,
        claim: Claim,
        reply: oneshot::Sender<StoreResult<MeetingPlacement>>,
    },
}

/// How a created record is claimed and kept: the claim's token (empty: none) and length, the record's time to live.
struct Claim {
    token: String,
    claim_for: Duration,
    ttl: Duration,
}

impl fmt::Debug for Write {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Write::Bump { server_id, .. } => write!(f, "Bump({server_id})"),
            Write::Confirm { id, .. } => write!(f, "Confirm({id})"),
            Write::Place { .. } => write!(f, "Place"),
            Write::Claim { meeting, .. } => write!(f, "Claim({})", meeting.id),
        }
    }
}

impl WriteQueue {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Resets the queue when the commit task ends in any way (also dropped with its runtime): the next write starts a
/// new task, and writes still queued are answered with an error (their senders are dropped).
struct FlushGuard<'a> {
    writes: &'a WriteQueue,
    /// False once the task finished normally (and a new task may already own the queue).
    armed: bool,
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut queue = self.writes.lock();
        queue.flushing = false;
        queue.pending.clear();
    }
}

fn not_committed() -> StoreError {
    StoreError::Backend("the write was not committed".into())
}

impl SqliteStore {
    /// `ServerStore::increment_load`, committed with the writes that arrive meanwhile.
    pub(super) async fn bump_load(&self, server_id: &str, amount: f64) -> StoreResult<Option<f64>> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Write::Bump {
            server_id: server_id.to_owned(),
            amount,
            reply: Some(reply),
        });
        answer.await.unwrap_or_else(|_| Err(not_committed()))
    }

    /// `ServerStore::increment_load_behind`: queued for the next batch without waiting for it, added to a bump of
    /// the same server already waiting there, so the queue holds one such bump per server at most.
    pub(super) fn bump_load_behind(&self, server_id: &str, amount: f64) {
        {
            let mut queue = self.writes.lock();
            let waiting = queue.pending.iter_mut().find_map(|write| match write {
                Write::Bump {
                    server_id: id,
                    amount,
                    reply: None,
                } if id == server_id => Some(amount),
                _ => None,
            });
            if let Some(waiting) = waiting {
                *waiting += amount;
                return;
            }
        }
        self.enqueue(Write::Bump {
            server_id: server_id.to_owned(),
            amount,
            reply: None,
        });
    }

    /// `confirm_meeting` (without `params`) or `confirm_meeting_with_params`, committed with the writes that
    /// arrive meanwhile.
    pub(super) async fn group_confirm(
        &self,
        id: &str,
        token: &str,
        params: Option<ParamsRow>,
    ) -> StoreResult<bool> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Write::Confirm {
            id: id.to_owned(),
            token: token.to_owned(),
            params,
            reply,
        });
        answer.await.unwrap_or_else(|_| Err(not_committed()))
    }

    /// `MeetingStore::place_meeting`, committed with the writes that arrive meanwhile.
    pub(super) async fn group_place(
        &self,
        tags: &TagRequest,
        meeting: NewMeeting,
        moderator_pw: PasswordFor,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> PlaceAnswer {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Write::Place {
            tags: tags.clone(),
            meeting,
            moderator_pw,
            claim: Claim {
                token: token.to_owned(),
                claim_for,
                ttl,
            },
            reply,
        });
        answer
            .await
            .unwrap_or_else(|_| Err(SelectError::Store(not_committed())))
    }

    /// `MeetingStore::claim_meeting`, committed with the writes that arrive meanwhile.
    pub(super) async fn group_claim(
        &self,
        meeting: NewMeeting,
        token: &str,
        claim_for: Duration,
        ttl: Duration,
    ) -> StoreResult<MeetingPlacement> {
        let (reply, answer) = oneshot::channel();
        self.enqueue(Write::Claim {
            meeting,
            claim: Claim {
                token: token.to_owned(),
                claim_for,
                ttl,
            },
            reply,
        });
        answer.await.unwrap_or_else(|_| Err(not_committed()))
    }

    fn enqueue(&self, write: Write) {
        let start = {
            let mut queue = self.writes.lock();
            queue.pending.push(write);
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move { store.flush_writes().await });
        }
    }

    /// Commit queued writes, batch after batch, until none is left.
    async fn flush_writes(&self) {
        let mut guard = FlushGuard {
            writes: &self.writes,
            armed: true,
        };
        // The writer connection stays with this task from one batch to the next while writes keep coming: handing
        // it back to the pool and taking it again is two more hops through the runtime per batch. After
        // HOLD_BATCHES in a row it goes back, so the process's other writes get their turn.
        let mut held = None;
        let mut held_for = 0;
        loop {
            let batch = {
                let mut queue = self.writes.lock();
                if queue.pending.is_empty() {
                    queue.flushing = false;
                    guard.armed = false;
                    return;
                }
                let take = queue.pending.len().min(MAX_BATCH);
                queue.pending.drain(..take).collect::<Vec<_>>()
            };
            self.commit_batch(batch, &mut held).await;
            held_for += 1;
            if held_for >= HOLD_BATCHES {
                held = None;
                held_for = 0;
            }
        }
    }

    /// One transaction for the batch, then every write's answer.
    async fn commit_batch(&self, batch: Vec<Write>, held: &mut Option<WriterConnection>) {
        let mut plan = Plan::default();
        let result = self.run_batch(batch, &mut plan, held).await;
        let error = result.err().map(|e| e.to_string());
        if let Some(error) = &error {
            let behind = plan
                .answers
                .iter()
                .any(|a| matches!(a, Answer::Bump { reply: None, .. }));
            if behind {
                tracing::warn!(error = %error, "could not write the load bumps of joins");
            }
        }
        // The callers may be gone (their requests were dropped); their writes are committed anyway.
        for answer in plan.answers {
            let failed = || StoreError::Backend(error.clone().unwrap_or_default());
            match answer {
                Answer::Bump { reply, load } => {
                    if let Some(reply) = reply {
                        let _ = reply.send(match &error {
                            Some(_) => Err(failed()),
                            None => Ok(load),
                        });
                    }
                }
                Answer::Confirm { reply, key } => {
                    let _ = reply.send(match &error {
                        Some(_) => Err(failed()),
                        None => Ok(plan.confirmed.contains(&key)),
                    });
                }
                Answer::Placed { reply, placed } => {
                    let _ = reply.send(match &error {
                        Some(_) => Err(SelectError::Store(failed())),
                        None => Ok(*placed),
                    });
                }
                Answer::Claimed { reply, placement } => {
                    let _ = reply.send(match &error {
                        Some(_) => Err(failed()),
                        None => placement,
                    });
                }
                Answer::NotPlaced { reply, error: e } => {
                    let _ = reply.send(Err(match &error {
                        Some(_) => SelectError::Store(failed()),
                        None => e,
                    }));
                }
            }
        }
    }

    /// Read, decide, write and commit the batch; `plan` collects the answers (sent by the caller, also when this
    /// fails).
    async fn run_batch(
        &self,
        batch: Vec<Write>,
        plan: &mut Plan,
        held: &mut Option<WriterConnection>,
    ) -> StoreResult<()> {
        let connection = match held.take() {
            Some(connection) => connection,
            None => self.writer.acquire().await.map_err(backend)?,
        };
        let mut writer = Writer {
            connection: Some(connection),
        };
        let result = self.decide_and_write(&mut writer, batch, plan).await;
        let Some(mut connection) = writer.connection.take() else {
            return result;
        };
        if result.is_err() {
            // Nothing of a failed batch stays. Should the rollback fail too (also when the batch failed before its
            // BEGIN ran), the connection is closed rather than reused in a state not known here.
            if sqlx::query("ROLLBACK")
                .execute(&mut *connection)
                .await
                .is_err()
            {
                connection.close_on_drop();
                return result;
            }
        }
        *held = Some(connection);
        result
    }

    /// Begin (with the read, or with the write when nothing needs reading), decide, write and commit: two trips
    /// to the writer connection's thread at most.
    async fn decide_and_write(
        &self,
        writer: &mut Writer,
        batch: Vec<Write>,
        plan: &mut Plan,
    ) -> StoreResult<()> {
        let connection = writer.connection()?;
        let now = now_ms();

        // What the placements, claims and bumps need, in one trip.
        let mut state = State::default();
        let mut ids: Vec<&str> = Vec::new();
        let mut numbers: Vec<&str> = Vec::new();
        let mut decides = false;
        for write in &batch {
            match write {
                Write::Place { meeting, .. } | Write::Claim { meeting, .. } => {
                    ids.push(&meeting.id);
                    numbers.extend(meeting.voice_bridge_candidates.iter().map(String::as_str));
                    decides = true;
                }
                Write::Bump { .. } => decides = true,
                Write::Confirm { .. } => {}
            }
        }
        if decides {
            let (ids, numbers) = (json_list(&ids)?, json_list(&numbers)?);
            state.read(connection, ids, numbers, now).await?;
        }

        // Decide in arrival order; every change goes to the script's lists.
        let mut changes = Changes::default();
        for write in batch {
            match write {
                Write::Bump {
                    server_id,
                    amount,
                    reply,
                } => {
                    let load = state.add_load(&server_id, amount);
                    plan.answers.push(Answer::Bump { reply, load });
                }
                Write::Confirm {
                    id,
                    token,
                    params,
                    reply,
                } => {
                    if let Some((params, body, tag)) = params {
                        changes.params.push(ParamsChange {
                            id: id.clone(),
                            params,
                            body,
                            tag,
                        });
                    }
                    changes.confirms.push(ConfirmChange {
                        id: id.clone(),
                        token: token.clone(),
                    });
                    plan.answers.push(Answer::Confirm {
                        reply,
                        key: (id, token),
                    });
                }
                Write::Claim {
                    meeting,
                    claim,
                    reply,
                } => {
                    let placement = state.claim(&mut changes, meeting, &claim, now);
                    plan.answers.push(Answer::Claimed { reply, placement });
                }
                Write::Place {
                    tags,
                    meeting,
                    moderator_pw,
                    claim,
                    reply,
                } => {
                    let answer =
                        state.place(&mut changes, &tags, meeting, moderator_pw, &claim, now);
                    plan.answers.push(match answer {
                        Ok(placed) => Answer::Placed {
                            reply,
                            placed: Box::new(placed),
                        },
                        Err(error) => Answer::NotPlaced { reply, error },
                    });
                }
            }
        }
        changes.loads = state.changed_loads();

        if changes.is_empty() {
            // Only a batch that read has begun (one that did not always writes a confirmation).
            if decides {
                sqlx::query("COMMIT")
                    .execute(&mut *connection)
                    .await
                    .map_err(backend)?;
            }
        } else {
            let placements = json_list(&changes.placements)?;
            let script = if decides {
                WRITE_COMMIT.as_str()
            } else {
                BEGIN_WRITE_COMMIT.as_str()
            };
            let mut query = sqlx::query_as::<_, (String, String)>(script);
            for _ in 0..6 {
                query = query.bind(placements.clone());
            }
            let confirmed = query
                .bind(json_list(&changes.loads)?)
                .bind(json_list(&changes.params)?)
                .bind(json_list(&changes.confirms)?)
                .bind(now)
                .bind(now)
                .fetch_all(&mut *connection)
                .await
                .map_err(backend)?;
            plan.confirmed = confirmed.into_iter().collect();
        }
        Ok(())
    }
}

/// The process's writer connection, taken from its pool of one.
type WriterConnection = sqlx::pool::PoolConnection<sqlx::Sqlite>;

/// The writer connection of a batch. Dropped before the batch ended (its task cancelled mid-trip), the connection
/// may still be inside the batch's transaction: it is closed instead of going back to the pool.
struct Writer {
    connection: Option<WriterConnection>,
}

impl Writer {
    fn connection(&mut self) -> StoreResult<&mut sqlx::SqliteConnection> {
        self.connection
            .as_deref_mut()
            .ok_or_else(|| StoreError::Backend("the batch's connection is gone".into()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.as_mut() {
            connection.close_on_drop();
        }
    }
}

/// The batch's writes and its commit, in one trip.
static WRITE_COMMIT: LazyLock<String> = LazyLock::new(|| format!("{WRITE}; COMMIT"));
/// A batch that reads nothing (confirmations only) begins, writes and commits in one trip.
static BEGIN_WRITE_COMMIT: LazyLock<String> =
    LazyLock::new(|| format!("BEGIN IMMEDIATE; {WRITE}; COMMIT"));

/// The batch's changes, one statement or two each, in this order, each fed with a JSON list: the created records
/// (`PlacementChange`, statements 1 to 6), the new loads (`LoadChange`), the create parameters to keep
/// (`ParamsChange`), the claims to confirm (`ConfirmChange`, then now in ms, twice). Returns the (meeting id,
/// token) of every claim confirmed.
///
/// A created record first drops what is left of an expired one and every number its id held, then takes its
/// number (from whichever dead meeting held it), its record and its claim (or none). Loads are the batch's
/// results, computed in arrival order.
///
/// Parameters are anonymous (`?`), bound in the order they appear: sqlx binds a script's numbered parameters
/// (`?4`) wrongly in a statement that does not use every lower number.
const WRITE: &str = "\
    DELETE FROM meetings WHERE id IN (SELECT j.value->>'id' FROM json_each(?) j); \
    DELETE FROM voice_bridges WHERE meeting_id IN (SELECT j.value->>'id' FROM json_each(?) j); \
    INSERT INTO voice_bridges (number, meeting_id) \
    SELECT j.value->>'voice_bridge', j.value->>'id' FROM json_each(?) j WHERE true \
    ON CONFLICT (number) DO UPDATE SET meeting_id = excluded.meeting_id; \
    INSERT INTO meetings (id, server_id, moderator_pw, voice_bridge, tenant_id, expires_at) \
    SELECT j.value->>'id', j.value->>'server_id', j.value->>'moderator_pw', j.value->>'voice_bridge', \
    j.value->>'tenant_id', j.value->>'expires_at' FROM json_each(?) j; \
    DELETE FROM meeting_claims WHERE meeting_id IN \
    (SELECT j.value->>'id' FROM json_each(?) j WHERE j.value->>'token' IS NULL); \
    INSERT INTO meeting_claims (meeting_id, token, expires_at) \
    SELECT j.value->>'id', j.value->>'token', j.value->>'claim_expires_at' FROM json_each(?) j \
    WHERE j.value->>'token' IS NOT NULL \
    ON CONFLICT (meeting_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at; \
    UPDATE servers SET load = j.value->>'load' FROM json_each(?) j WHERE servers.id = j.value->>'id'; \
    INSERT INTO meeting_create_params (meeting_id, params, body, server_tag) \
    SELECT j.value->>'id', j.value->>'params', j.value->>'body', j.value->>'tag' FROM json_each(?) j WHERE true \
    ON CONFLICT (meeting_id) DO UPDATE SET params = excluded.params, body = excluded.body, \
    server_tag = excluded.server_tag; \
    DELETE FROM meeting_claims WHERE rowid IN (SELECT c.rowid FROM json_each(?) j \
    JOIN meeting_claims c ON c.meeting_id = j.value->>'id' AND c.token = j.value->>'token' \
    WHERE c.expires_at > ? AND EXISTS (SELECT 1 FROM meetings m WHERE m.id = c.meeting_id AND m.expires_at > ?)) \
    RETURNING meeting_id, token";

/// A record the batch creates.
#[derive(serde::Serialize)]
struct PlacementChange {
    id: String,
    server_id: String,
    moderator_pw: String,
    voice_bridge: String,
    tenant_id: Option<String>,
    expires_at: i64,
    /// None: the record is not claimed.
    token: Option<String>,
    claim_expires_at: i64,
}

/// A server's load after the batch.
#[derive(serde::Serialize)]
struct LoadChange {
    id: String,
    load: f64,
}

#[derive(serde::Serialize)]
struct ParamsChange {
    id: String,
    params: String,
    body: Option<String>,
    tag: Option<String>,
}

#[derive(serde::Serialize)]
struct ConfirmChange {
    id: String,
    token: String,
}

/// Everything the batch writes.
#[derive(Default)]
struct Changes {
    placements: Vec<PlacementChange>,
    loads: Vec<LoadChange>,
    params: Vec<ParamsChange>,
    confirms: Vec<ConfirmChange>,
}

impl Changes {
    fn is_empty(&self) -> bool {
        self.placements.is_empty()
            && self.loads.is_empty()
            && self.params.is_empty()
            && self.confirms.is_empty()
    }
}

/// The answers of a batch, in arrival order, and the claims its script confirmed.
#[derive(Default)]
struct Plan {
    answers: Vec<Answer>,
    confirmed: std::collections::HashSet<(String, String)>,
}

enum Answer {
    Bump {
        reply: Option<oneshot::Sender<StoreResult<Option<f64>>>>,
        load: Option<f64>,
    },
    /// Confirmed when the script returned `key` (meeting id, token).
    Confirm {
        reply: oneshot::Sender<StoreResult<bool>>,
        key: (String, String),
    },
    /// A server was chosen (its load as the placement left it).
    Placed {
        reply: oneshot::Sender<PlaceAnswer>,
        placed: Box<(Server, StoreResult<MeetingPlacement>)>,
    },
    NotPlaced {
        reply: oneshot::Sender<PlaceAnswer>,
        error: SelectError,
    },
    Claimed {
        reply: oneshot::Sender<StoreResult<MeetingPlacement>>,
        placement: StoreResult<MeetingPlacement>,
    },
}

/// What the batch's placements see: the database as read at its start, changed by the writes decided so far.
#[derive(Default)]
struct State {
    /// The available servers, least-loaded first (ties by id), as `select_server` orders them.
    servers: Vec<Server>,
    /// Servers whose load the batch changed.
    changed: Vec<String>,
    /// Meeting id -> its record, live or not, and its expiry; absent: no record.
    meetings: HashMap<String, (Meeting, i64)>,
    /// Voice bridge number -> (holder, holder live).
    holders: HashMap<String, (String, bool)>,
}

impl State {
    /// Read what the placements need, in one trip: the available servers, the records of the meetings `ids`
    /// and the holders of the voice bridge `numbers` (JSON lists).
    async fn read(
        &mut self,
        connection: &mut sqlx::SqliteConnection,
        ids: String,
        numbers: String,
        now: i64,
    ) -> StoreResult<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "BEGIN IMMEDIATE; SELECT 's' AS kind, {SERVER_COLUMNS} FROM servers s \
                 LEFT JOIN server_counters c ON c.server_id = s.id WHERE {AVAILABLE} ORDER BY s.load, s.id; \
                 SELECT 'm' AS kind, m.id, m.server_id, m.moderator_pw, m.voice_bridge, m.tenant_id, m.expires_at \
                 FROM meetings m WHERE m.id IN (SELECT value FROM json_each(?1)); \
                 SELECT 'v' AS kind, v.number, v.meeting_id, EXISTS (SELECT 1 FROM meetings m \
                 WHERE m.id = v.meeting_id AND m.expires_at > ?2) AS live \
                 FROM voice_bridges v WHERE v.number IN (SELECT value FROM json_each(?3))"
            )
        });
        let rows = sqlx::query(SQL.as_str())
            .bind(ids)
            .bind(now)
            .bind(numbers)
            .fetch_all(&mut *connection)
            .await
            .map_err(backend)?;
        for row in &rows {
            let kind: &str = row.try_get("kind").map_err(backend)?;
            match kind {
                "s" => self.servers.push(server_from_row(row)?),
                "m" => {
                    let meeting = meeting_from_row(row)?;
                    let expires_at: i64 = row.try_get("expires_at").map_err(backend)?;
                    self.meetings
                        .insert(meeting.id.clone(), (meeting, expires_at));
                }
                _ => {
                    let number: String = row.try_get("number").map_err(backend)?;
                    let holder: String = row.try_get("meeting_id").map_err(backend)?;
                    let live: bool = row.try_get("live").map_err(backend)?;
                    self.holders.insert(number, (holder, live));
                }
            }
        }
        Ok(())
    }

    /// Add `amount` to an available server's load; its new load (`None`: not available, as the database's
    /// `UPDATE ... WHERE` available would change nothing).
    fn add_load(&mut self, server_id: &str, amount: f64) -> Option<f64> {
        let server = self.servers.iter_mut().find(|s| s.id == server_id)?;
        let load = server.load? + amount;
        server.load = Some(load);
        if !self.changed.iter().any(|id| id == server_id) {
            self.changed.push(server_id.to_owned());
        }
        self.sort();
        Some(load)
    }

    /// The loads to write back.
    fn changed_loads(&self) -> Vec<LoadChange> {
        self.changed
            .iter()
            .filter_map(|id| {
                let server = self.servers.iter().find(|s| &s.id == id)?;
                Some(LoadChange {
                    id: id.clone(),
                    load: server.load?,
                })
            })
            .collect()
    }

    fn sort(&mut self) {
        self.servers.sort_by(|a, b| {
            a.load
                .partial_cmp(&b.load)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.id.cmp(&b.id))
        });
    }

    /// Decide one placement as `place_meeting` does (choose the server, then claim the record on it and bump the
    /// server's load when created), on the state the earlier writes of the batch left. Returns the chosen server
    /// (its load as this placement left it) and the claim's answer.
    fn place(
        &mut self,
        changes: &mut Changes,
        tags: &TagRequest,
        mut meeting: NewMeeting,
        moderator_pw: PasswordFor,
        claim: &Claim,
        now: i64,
    ) -> Result<(Server, StoreResult<MeetingPlacement>), SelectError> {
        let mut server = choose_server(&self.servers, |s| s.tag.as_deref(), tags)?.clone();
        meeting.server_id = server.id.clone();
        meeting.moderator_pw = moderator_pw(&server);
        let placement = self.claim(changes, meeting, claim, now);
        if matches!(placement, Ok(MeetingPlacement::Created(_))) {
            server.load = self.add_load(&server.id, server.load_multiplier);
        }
        Ok((server, placement))
    }

    /// Decide one claim as `claim_meeting` does, on the state the earlier writes of the batch left: the live
    /// record wins (unless another tenant's), else the record is created with the first free candidate number; a
    /// created record goes to `changes`, and the state changes as the script will change the database.
    fn claim(
        &mut self,
        changes: &mut Changes,
        meeting: NewMeeting,
        claim: &Claim,
        now: i64,
    ) -> StoreResult<MeetingPlacement> {
        let tenant_id = meeting.tenant_id.clone().filter(|t| !t.is_empty());
        if let Some((existing, expires_at)) = self.meetings.get(&meeting.id) {
            if *expires_at > now {
                return existing_placement(existing.clone(), tenant_id.as_deref());
            }
        }
        let holders = &self.holders;
        let voice_bridge = free_number(&meeting, |number| {
            holders
                .get(number)
                .map(|(holder, live)| (holder.as_str(), *live))
        })?;
        let created = Meeting {
            id: meeting.id,
            server_id: meeting.server_id,
            moderator_pw: meeting.moderator_pw,
            voice_bridge,
            tenant_id,
        };
        let expires_at = expiry_ms(claim.ttl);
        // As the script will leave it: the meeting holds exactly its number and its record is live.
        self.holders.retain(|_, (holder, _)| *holder != created.id);
        self.holders
            .insert(created.voice_bridge.clone(), (created.id.clone(), true));
        self.meetings
            .insert(created.id.clone(), (created.clone(), expires_at));
        changes.placements.push(PlacementChange {
            id: created.id.clone(),
            server_id: created.server_id.clone(),
            moderator_pw: created.moderator_pw.clone(),
            voice_bridge: created.voice_bridge.clone(),
            tenant_id: created.tenant_id.clone(),
            expires_at,
            token: (!claim.token.is_empty()).then(|| claim.token.clone()),
            claim_expires_at: expiry_ms(claim.claim_for),
        });
        Ok(MeetingPlacement::Created(created))
    }
}
