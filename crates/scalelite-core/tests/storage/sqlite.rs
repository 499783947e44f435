//! The contract suite on the embedded back-end, plus what only SQLite has: several stores (processes) on one file.

use std::collections::BTreeMap;
use std::path::Path;

use scalelite_core::domain::{
    MeetingPlacement, NewMeeting, NewServer, Secret, ServerPatch, ServerState, TagRequest,
};
use scalelite_core::storage::sqlite::SqliteStore;
use scalelite_core::storage::{MeetingStore, ServerStore};
use tempfile::TempDir;

use crate::contract::{LONG_TTL, contract_suite};
use crate::production::load;

/// A fresh database file in its own temporary directory (removed when the guard drops).
pub async fn make_store() -> (SqliteStore, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(&dir.path().join("scalelite.sqlite3")).await;
    (store, dir)
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).await.expect("open sqlite store")
}

mod contract {
    use super::make_store;

    super::contract_suite!(make_store);
}

fn server(id: &str) -> NewServer {
    NewServer {
        id: id.to_owned(),
        url: format!("https://{id}.example.com/bigbluebutton/api/"),
        secret: Secret::new("s"),
        tag: None,
        state: ServerState::Enabled,
        load_multiplier: 1.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_share_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let a = open(&path).await;
    let b = open(&path).await;

    a.add_server(server("s1")).await.unwrap();
    assert_eq!(b.get_server("s1").await.unwrap().id, "s1");
    b.patch_server("s1", load(0.0)).await.unwrap();
    let seen = a.get_server("s1").await.unwrap();
    assert_eq!((seen.load, seen.online), (Some(0.0), true));

    let meeting = NewMeeting {
        id: "m".to_owned(),
        server_id: "s1".to_owned(),
        moderator_pw: "mp".to_owned(),
        voice_bridge_candidates: vec!["123".to_owned()],
        tenant_id: None,
    };
    let created = a
        .find_or_create_meeting(meeting.clone(), LONG_TTL)
        .await
        .unwrap();
    assert!(matches!(created, MeetingPlacement::Created(_)));
    let existing = b.find_or_create_meeting(meeting, LONG_TTL).await.unwrap();
    assert_eq!(existing, MeetingPlacement::Existing(created.into_meeting()));
    assert!(b.delete_meeting("m").await.unwrap());
    assert!(!a.delete_meeting("m").await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_selection_across_stores_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let a = open(&path).await;
    let b = open(&path).await;
    for id in ["x", "y", "z"] {
        a.add_server(NewServer {
            load_multiplier: 1.5,
            ..server(id)
        })
        .await
        .unwrap();
        b.patch_server(
            id,
            ServerPatch {
                load: Some(Some(0.0)),
                ..ServerPatch::default()
            },
        )
        .await
        .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { store.select_server(&TagRequest::default()).await });
    }
    let mut picks: BTreeMap<String, u32> = BTreeMap::new();
    while let Some(result) = tasks.join_next().await {
        let server = result.expect("task").expect("select_server");
        *picks.entry(server.id).or_default() += 1;
    }
    assert_eq!(
        picks,
        BTreeMap::from([
            ("x".to_owned(), 20),
            ("y".to_owned(), 20),
            ("z".to_owned(), 20)
        ])
    );
    for id in ["x", "y", "z"] {
        assert_eq!(a.get_server(id).await.unwrap().load, Some(30.0), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_open_of_a_fresh_file_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fresh.sqlite3");
    let mut opening = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let path = path.clone();
        opening.spawn(async move { SqliteStore::open(&path).await });
    }
    let mut stores = Vec::new();
    while let Some(result) = opening.join_next().await {
        stores.push(result.expect("task").expect("open"));
    }
    stores[0].add_server(server("s1")).await.unwrap();
    for store in &stores {
        assert_eq!(store.list_servers().await.unwrap().len(), 1);
        store.close().await;
    }
    // Reopening runs the (already applied) migrations again and keeps the data.
    let reopened = open(&path).await;
    assert_eq!(reopened.get_server("s1").await.unwrap().id, "s1");
}

/// Closing the store commits the group-committed writes already queued and answers later ones with an error: no
/// caller waits forever, and every write answered `Ok` is in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_commits_queued_writes_and_refuses_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("close.sqlite3");
    let store = open(&path).await;
    store.add_server(server("s1")).await.unwrap();
    store.patch_server("s1", load(0.0)).await.unwrap();
    let mut bumps = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let store = store.clone();
        bumps.spawn(async move { store.increment_load("s1", 1.0).await });
    }
    tokio::task::yield_now().await;
    store.close().await;
    let mut committed = 0.0;
    while let Some(bump) =
        tokio::time::timeout(std::time::Duration::from_secs(30), bumps.join_next())
            .await
            .expect("a write waited forever")
    {
        if bump.unwrap().is_ok() {
            committed += 1.0;
        }
    }
    assert!(
        store.increment_load("s1", 1.0).await.is_err(),
        "a write after close was accepted"
    );
    let reopened = open(&path).await;
    assert_eq!(
        reopened.get_server("s1").await.unwrap().load,
        Some(committed)
    );
}

/// Place a new meeting `id` with the one voice bridge candidate `number` (through the store's group commit); the
/// server chosen. The meeting must be created.
async fn place_new(store: &SqliteStore, id: &str, number: &str) -> String {
    let meeting = NewMeeting {
        id: id.to_owned(),
        server_id: String::new(),
        moderator_pw: String::new(),
        voice_bridge_candidates: vec![number.to_owned()],
        tenant_id: None,
    };
    let (server, placement) = store
        .place_meeting(
            &TagRequest::default(),
            meeting,
            |_| "mp".to_owned(),
            "token",
            std::time::Duration::from_secs(60),
            LONG_TTL,
        )
        .await
        .expect("a server");
    assert!(matches!(placement, Ok(MeetingPlacement::Created(_))));
    server.id
}

/// A store's group commits (`group.rs`) decide placements on the servers as the database holds them: after writes
/// by another connection, of another store on the file or of the same store's other writer, not as the committer's
/// own last batch left them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placements_see_the_servers_as_other_connections_left_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite3");
    let a = open(&path).await;
    let b = open(&path).await;
    for id in ["x", "y"] {
        a.add_server(server(id)).await.unwrap();
        a.patch_server(id, load(0.0)).await.unwrap();
    }
    let mut n = 0;
    let mut place = async |store: &SqliteStore| {
        n += 1;
        place_new(store, &format!("m{n}"), &format!("{}", 100_000 + n)).await
    };
    let loads = async |store: &SqliteStore| {
        let x = store.get_server("x").await.unwrap().load;
        let y = store.get_server("y").await.unwrap().load;
        (x, y)
    };

    // a: x y x y (2, 2); then b, which sees them: x y x (4, 3).
    for _ in 0..4 {
        place(&a).await;
    }
    for _ in 0..3 {
        place(&b).await;
    }
    assert_eq!(loads(&a).await, (Some(4.0), Some(3.0)));
    // a's last batch left (2, 2): the least loaded is y now.
    assert_eq!(place(&a).await, "y");
    // a's own other writer disables y: a's committer must not place there.
    a.patch_server(
        "y",
        ServerPatch {
            state: Some(ServerState::Disabled),
            ..ServerPatch::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(place(&a).await, "x");
    assert_eq!(place(&b).await, "x");
    assert_eq!(loads(&b).await.0, Some(6.0));
}

fn page_size(path: &Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA page_size", [], |row| row.get(0))
        .unwrap()
}

/// A file the store creates gets its small pages (`PAGE_SIZE` in `sqlite/mod.rs`); a file created with SQLite's
/// default keeps it, and the store works on it as on a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_get_small_pages_and_older_files_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh.sqlite3");
    open(&fresh).await.close().await;
    assert_eq!(page_size(&fresh), 1024);

    let older = dir.path().join("older.sqlite3");
    rusqlite::Connection::open(&older)
        .unwrap()
        .execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE leftover (x INTEGER);",
        )
        .unwrap();
    let store = open(&older).await;
    store.add_server(server("s1")).await.unwrap();
    store.patch_server("s1", load(0.0)).await.unwrap();
    assert_eq!(place_new(&store, "m", "123456").await, "s1");
    store.close().await;
    assert_eq!(page_size(&older), 4096);
    assert_eq!(
        open(&older).await.get_meeting("m").await.unwrap().server_id,
        "s1"
    );
}
