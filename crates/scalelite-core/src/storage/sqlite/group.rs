//! Group commit of the API's hot writes: new meetings' placements (and claims of a record on a given server),
//! their confirmations and load bumps.
//!
//! Every such write needs the database's write lock, and one by one each was a handful of trips through sqlx's
//! worker thread for the connection (begin, read, write, commit), every trip a hop to that thread and back through
//! the async runtime, while every other write of the process waited. Here the writes go to a queue, and one thread
//! of the store's own commits them, batch after batch, on a connection of its own (rusqlite, its statements
//! compiled once): a write that arrives while a batch is being committed waits for the next batch, which carries
//! every write queued meanwhile in one transaction, whatever its size: `BEGIN IMMEDIATE`, one read of what the
//! batch needs (the available servers, the placed meetings' records, the holders of their first candidate voice
//! bridge numbers; a further candidate is read only when the ones before it are taken, which with 9-digit numbers
//! is rare), the decisions, the writes (row by row, each statement compiled once) and the commit, all on that
//! thread without a hop in between.
//!
//! Nothing changes for the callers: each write returns once its batch is committed, with the answer it would have
//! had if the batch's writes had run one by one in the order they arrived. The batch decides placements and bumps
//! in that order on what it read (the write lock is held from the read on, so nothing else changes it), each
//! seeing the loads, records and numbers the earlier ones left; a confirmation's answer is whether the batch
//! found its claim. Nothing changes across processes either: the batch holds the database's write lock from its
//! read to its commit, as a single placement did; this process's other writes (through the sqlx writer) and other
//! processes wait for it as SQLite makes them wait (`busy_timeout`). A batch that fails answers every write in it
//! with the error, and changes nothing.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

use crate::domain::{Meeting, MeetingPlacement, NewMeeting, Server, TagRequest};
use crate::storage::sqlite::direct::open_connection;
use crate::storage::sqlite::meetings::{existing_placement, free_number, may_take};
use crate::storage::sqlite::servers::{AVAILABLE, SERVER_COLUMNS, choose_server, server_from_row};
use crate::storage::sqlite::{SqliteStore, backend, expiry_ms, json_list, now_ms};
use crate::storage::{SelectError, StoreError, StoreResult};

/// Most writes in one transaction: bounds a batch's statements and the wait of its last write.
const MAX_BATCH: usize = 64;
/// Statements kept compiled on the committer's connection (it uses 14).
const STATEMENT_CACHE: usize = 32;

/// What a placement answers (`MeetingStore::place_meeting`).
pub(super) type PlaceAnswer = Result<(Server, StoreResult<MeetingPlacement>), SelectError>;

/// The moderator password of a new meeting on the server chosen for it.
pub(super) type PasswordFor = Box<dyn FnOnce(&Server) -> String + Send>;

/// The writes waiting for their group commit. The committer thread ([`Committer`]) waits on `ready`.
#[derive(Debug, Default)]
pub(super) struct WriteQueue {
    queue: Mutex<Queue>,
    /// Signalled when a write is queued or the queue is closed.
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    pending: Vec<Write>,
    /// The store is closed: the committer ends once `pending` is empty, and writes queued later are answered with
    /// an error.
    closed: bool,
    /// The committer waits on `ready`: only then does a queued write signal it (a signal is a system call, and
    /// while a batch runs the committer takes the queue without one).
    idle: bool,
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

    /// No more writes: the committer commits what is queued and ends.
    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// The next batch, in arrival order, once there is one; `None` once the queue is closed and empty.
    fn next_batch(&self) -> Option<Vec<Write>> {
        let mut queue = self.lock();
        loop {
            if !queue.pending.is_empty() {
                let take = queue.pending.len().min(MAX_BATCH);
                return Some(queue.pending.drain(..take).collect());
            }
            if queue.closed {
                return None;
            }
            queue.idle = true;
            queue = self
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
            queue.idle = false;
        }
    }
}

/// The thread that commits what a store's queue receives. Dropped with the last clone of the store, it closes the
/// queue (the thread then commits what is queued and ends); [`Committer::close`] also waits for that.
#[derive(Debug)]
pub(super) struct Committer {
    writes: Arc<WriteQueue>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Open the committer's connection on `path` and start the thread that commits what `writes` receives.
    pub(super) fn start(path: &Path, writes: &Arc<WriteQueue>) -> StoreResult<Self> {
        let connection = open_writer(path)?;
        let (owned_path, queue) = (path.to_owned(), Arc::clone(writes));
        let thread = std::thread::Builder::new()
            .name("sqlite-commits".into())
            .spawn(move || commit_loop(Some(connection), &owned_path, &queue))
            .map_err(backend)?;
        Ok(Self {
            writes: Arc::clone(writes),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Close the queue and wait for the thread to commit what is queued and end.
    pub(super) async fn close(&self) {
        self.writes.close();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.writes.close();
    }
}

/// The committer's connection: read-write beside the sqlx pools and the other processes, never checkpointing (the
/// store's checkpoint task does).
fn open_writer(path: &Path) -> StoreResult<Connection> {
    let connection = open_connection(path, STATEMENT_CACHE)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(backend)?;
    connection
        .pragma_update(None, "foreign_keys", true)
        .map_err(backend)?;
    connection
        .pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(backend)?;
    Ok(connection)
}

/// Commit batch after batch until the queue is closed and empty. A connection left in an unknown state (its
/// rollback failed) is dropped and opened again for the next batch.
fn commit_loop(mut connection: Option<Connection>, path: &Path, writes: &WriteQueue) {
    while let Some(batch) = writes.next_batch() {
        if connection.is_none() {
            match open_writer(path) {
                Ok(opened) => connection = Some(opened),
                Err(e) => {
                    tracing::error!(error = %e, "sqlite: could not open the connection for group commits");
                    // The writes' senders are dropped: each caller gets "not committed".
                    drop(batch);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            }
        }
        if let Some(open) = connection.as_mut() {
            if !commit_batch(open, batch) {
                connection = None;
            }
        }
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
        let mut queue = self.writes.lock();
        if queue.closed {
            // Dropped with its reply: the caller gets "not committed".
            return;
        }
        queue.pending.push(write);
        let idle = std::mem::take(&mut queue.idle);
        drop(queue);
        if idle {
            self.writes.ready.notify_one();
        }
    }
}

/// One transaction for the batch, then every write's answer. False when the connection was left in an unknown
/// state (the batch failed and so did its rollback).
fn commit_batch(connection: &mut Connection, batch: Vec<Write>) -> bool {
    let mut plan = Plan::default();
    let result = catch_unwind(AssertUnwindSafe(|| run_batch(connection, batch, &mut plan)))
        .unwrap_or_else(|_| Err(StoreError::Backend("the group commit panicked".into())));
    let mut usable = true;
    if result.is_err() && !connection.is_autocommit() {
        // Nothing of a failed batch stays.
        usable = connection.execute_batch("ROLLBACK").is_ok();
    }
    answer(plan, result.err().map(|e| e.to_string()));
    usable
}

/// Send every write of a batch its answer (`error`: the batch failed). The callers may be gone (their requests
/// were dropped); their writes are committed anyway.
fn answer(plan: Plan, error: Option<String>) {
    if let Some(error) = &error {
        let behind = plan
            .answers
            .iter()
            .any(|a| matches!(a, Answer::Bump { reply: None, .. }));
        if behind {
            tracing::warn!(error = %error, "could not write the load bumps of joins");
        }
    }
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

/// Begin, read what the batch needs, decide, write and commit; `plan` collects the answers (sent by the caller,
/// also when this fails).
fn run_batch(connection: &Connection, batch: Vec<Write>, plan: &mut Plan) -> StoreResult<()> {
    let now = now_ms();
    let mut state = State::default();
    let mut ids: Vec<&str> = Vec::new();
    let mut numbers: Vec<&str> = Vec::new();
    let mut decides = false;
    for write in &batch {
        match write {
            Write::Place { meeting, .. } | Write::Claim { meeting, .. } => {
                ids.push(&meeting.id);
                // Usually free: the others are read only if it is not (`State::learn_holder`).
                numbers.extend(meeting.voice_bridge_candidates.first().map(String::as_str));
                decides = true;
            }
            Write::Bump { .. } => decides = true,
            Write::Confirm { .. } => {}
        }
    }
    execute(connection, "BEGIN IMMEDIATE", [])?;
    if decides {
        state.read(connection, &ids, &numbers, now)?;
    }
    // Decide in arrival order; every change goes to the statements' lists.
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
                let placement = state.claim(connection, &mut changes, meeting, &claim, now);
                plan.answers.push(Answer::Claimed { reply, placement });
            }
            Write::Place {
                tags,
                meeting,
                moderator_pw,
                claim,
                reply,
            } => {
                let answer = state.place(
                    connection,
                    &mut changes,
                    &tags,
                    meeting,
                    moderator_pw,
                    &claim,
                    now,
                );
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

    if !changes.is_empty() {
        write(connection, &changes, now, plan)?;
    }
    execute(connection, "COMMIT", [])
}

/// Run one statement (compiled once per connection).
fn execute(connection: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map(drop)
        .map_err(backend)
}

/// Write the batch's changes, row by row with the statements below, each compiled once; the claims confirmed go
/// to `plan`. The order is that of one statement per step over every row of the step (the created records'
/// steps 1 to 6, then the loads, the create parameters, the confirmations), so each step sees what the earlier
/// steps wrote for every row.
///
/// A created record first drops what is left of an expired one and every number its id held, then takes its
/// number (from whichever dead meeting held it), its record and its claim (or none). Loads are the batch's
/// results, computed in arrival order.
///
/// Row by row rather than one statement per step fed with a JSON list (as when every statement was a trip to
/// sqlx's worker thread): parsing and unpacking the lists again for every statement was half of this thread's
/// time.
fn write(connection: &Connection, changes: &Changes, now: i64, plan: &mut Plan) -> StoreResult<()> {
    use rusqlite::params;
    let placements = &changes.placements;
    each(
        connection,
        "DELETE FROM meetings WHERE id = ?1",
        placements,
        |st, p| {
            if p.replaces {
                st.execute([&p.id])
            } else {
                Ok(0)
            }
        },
    )?;
    each(
        connection,
        "DELETE FROM voice_bridges WHERE meeting_id = ?1",
        placements,
        |st, p| st.execute([&p.id]),
    )?;
    each(
        connection,
        "INSERT INTO voice_bridges (number, meeting_id) VALUES (?1, ?2) \
         ON CONFLICT (number) DO UPDATE SET meeting_id = excluded.meeting_id",
        placements,
        |st, p| st.execute([&p.voice_bridge, &p.id]),
    )?;
    each(
        connection,
        "INSERT INTO meetings (id, server_id, moderator_pw, voice_bridge, tenant_id, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        placements,
        |st, p| {
            st.execute(params![
                p.id,
                p.server_id,
                p.moderator_pw,
                p.voice_bridge,
                p.tenant_id,
                p.expires_at
            ])
        },
    )?;
    each(
        connection,
        "DELETE FROM meeting_claims WHERE meeting_id = ?1",
        placements,
        |st, p| match p.token {
            Some(_) => Ok(0),
            None => st.execute([&p.id]),
        },
    )?;
    each(
        connection,
        "INSERT INTO meeting_claims (meeting_id, token, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (meeting_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at",
        placements,
        |st, p| match &p.token {
            Some(token) => st.execute(params![p.id, token, p.claim_expires_at]),
            None => Ok(0),
        },
    )?;
    each(
        connection,
        "UPDATE servers SET load = ?2 WHERE id = ?1",
        &changes.loads,
        |st, change| st.execute(params![change.id, change.load]),
    )?;
    each(
        connection,
        "INSERT INTO meeting_create_params (meeting_id, params, body, server_tag) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (meeting_id) DO UPDATE SET params = excluded.params, body = excluded.body, \
         server_tag = excluded.server_tag",
        &changes.params,
        |st, change| st.execute(params![change.id, change.params, change.body, change.tag]),
    )?;
    each(
        connection,
        "DELETE FROM meeting_claims WHERE meeting_id = ?1 AND token = ?2 AND expires_at > ?3 \
         AND EXISTS (SELECT 1 FROM meetings m WHERE m.id = ?1 AND m.expires_at > ?3)",
        &changes.confirms,
        |st, change| {
            let deleted = st.execute(params![change.id, change.token, now])?;
            if deleted > 0 {
                plan.confirmed
                    .insert((change.id.clone(), change.token.clone()));
            }
            Ok(deleted)
        },
    )
}

/// Run `sql` (compiled once per connection) for every row of `rows`, in order, with `run`.
fn each<T>(
    connection: &Connection,
    sql: &str,
    rows: &[T],
    mut run: impl FnMut(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    for row in rows {
        run(&mut statement, row).map_err(backend)?;
    }
    Ok(())
}

/// A record the batch creates.
struct PlacementChange {
    /// A record of this id (expired) is in the database.
    replaces: bool,
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
struct LoadChange {
    id: String,
    load: f64,
}

struct ParamsChange {
    id: String,
    params: String,
    body: Option<String>,
    tag: Option<String>,
}

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
    /// The numbers read from the database so far, held or not (`holders` has those held).
    read_numbers: HashSet<String>,
}

impl State {
    /// Read what the placements need: the available servers, the records of the meetings `ids` and the holders
    /// of the voice bridge `numbers`.
    fn read(
        &mut self,
        connection: &Connection,
        ids: &[&str],
        numbers: &[&str],
        now: i64,
    ) -> StoreResult<()> {
        static SERVERS: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {SERVER_COLUMNS} FROM servers s LEFT JOIN server_counters c ON c.server_id = s.id \
                 WHERE {AVAILABLE} ORDER BY s.load, s.id"
            )
        });
        const MEETINGS: &str = "SELECT m.id, m.server_id, m.moderator_pw, m.voice_bridge, m.tenant_id, \
             m.expires_at FROM meetings m WHERE m.id IN (SELECT value FROM json_each(?))";
        const HOLDERS: &str = "SELECT v.number, v.meeting_id, EXISTS (SELECT 1 FROM meetings m \
             WHERE m.id = v.meeting_id AND m.expires_at > ?) AS live \
             FROM voice_bridges v WHERE v.number IN (SELECT value FROM json_each(?))";
        let mut statement = connection.prepare_cached(&SERVERS).map_err(backend)?;
        let mut rows = statement.query([]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            self.servers.push(server_from_row(row)?);
        }
        let mut statement = connection.prepare_cached(MEETINGS).map_err(backend)?;
        let mut rows = statement.query([json_list(ids)?]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let meeting = Meeting {
                id: row.get("id").map_err(backend)?,
                server_id: row.get("server_id").map_err(backend)?,
                moderator_pw: row.get("moderator_pw").map_err(backend)?,
                voice_bridge: row.get("voice_bridge").map_err(backend)?,
                tenant_id: row
                    .get::<_, Option<String>>("tenant_id")
                    .map_err(backend)?
                    .filter(|t| !t.is_empty()),
            };
            let expires_at: i64 = row.get("expires_at").map_err(backend)?;
            self.meetings
                .insert(meeting.id.clone(), (meeting, expires_at));
        }
        let mut statement = connection.prepare_cached(HOLDERS).map_err(backend)?;
        let mut rows = statement
            .query(rusqlite::params![now, json_list(numbers)?])
            .map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            let number: String = row.get("number").map_err(backend)?;
            let holder: String = row.get("meeting_id").map_err(backend)?;
            let live: bool = row.get("live").map_err(backend)?;
            self.holders.insert(number, (holder, live));
        }
        self.read_numbers
            .extend(numbers.iter().map(|n| (*n).to_owned()));
        Ok(())
    }

    /// Make sure the holder of `number` is known: read it from the database unless it was read already or the
    /// batch decided it.
    fn learn_holder(&mut self, connection: &Connection, number: &str, now: i64) -> StoreResult<()> {
        const HOLDER: &str = "SELECT v.meeting_id, EXISTS (SELECT 1 FROM meetings m \
             WHERE m.id = v.meeting_id AND m.expires_at > ?1) FROM voice_bridges v WHERE v.number = ?2";
        if self.holders.contains_key(number) || self.read_numbers.contains(number) {
            return Ok(());
        }
        let mut statement = connection.prepare_cached(HOLDER).map_err(backend)?;
        let held: Option<(String, bool)> = statement
            .query_row(rusqlite::params![now, number], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(backend)?;
        if let Some(held) = held {
            self.holders.insert(number.to_owned(), held);
        }
        self.read_numbers.insert(number.to_owned());
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
    #[allow(clippy::too_many_arguments)]
    fn place(
        &mut self,
        connection: &Connection,
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
        let placement = self.claim(connection, changes, meeting, claim, now);
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
        connection: &Connection,
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
        // The candidates' holders, up to the first free one (which is where `free_number` stops).
        for candidate in &meeting.voice_bridge_candidates {
            self.learn_holder(connection, candidate, now)?;
            let holder = self
                .holders
                .get(candidate)
                .map(|(h, live)| (h.as_str(), *live));
            if may_take(holder, &meeting.id) {
                break;
            }
        }
        let replaces = self.meetings.contains_key(&meeting.id);
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
            replaces,
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
