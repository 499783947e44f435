//! Our PostgreSQL migrations: on an empty database, twice, and on databases the original created (from its
//! migrations, with nullable booleans, and an older one missing later columns): they only add what is missing.

use scalelite_core::domain::RecordingFilter;
use scalelite_core::storage::RecordingStore;
use scalelite_core::storage::production::ProductionStore;
use sqlx::PgPool;

use crate::pg_support::{TestDb, TestEnv};

const ORIGINAL_VERSIONS: [&str; 6] = [
    "20181123180008",
    "20210425184558",
    "20210630205630",
    "20210725200414",
    "20221111194252",
    "20230627141045",
];

async fn index_names(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// (table, column, data type, nullable, default) of every column of our five tables.
async fn columns(pool: &PgPool) -> Vec<(String, String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text, column_default::text \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name IN \
         ('recordings', 'metadata', 'playback_formats', 'thumbnails', 'callback_data') ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A digest of every row of every table, to show data is untouched.
async fn data_digest(pool: &PgPool) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for table in [
        "recordings",
        "metadata",
        "playback_formats",
        "thumbnails",
        "callback_data",
    ] {
        let digest: Option<String> = sqlx::query_scalar(&format!(
            "SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        out.push((table.to_owned(), digest));
    }
    out
}

async fn connect(env: &TestEnv) -> ProductionStore {
    env.store().await
}

#[tokio::test]
async fn migrate_an_empty_database_as_schema_rb_would() {
    let env = TestEnv::new().await;
    let _store = connect(&env).await;
    let indexes = index_names(env.pg()).await;
    for name in [
        "index_recordings_on_record_id",
        "index_recordings_on_meeting_id",
        "index_metadata_on_recording_id_and_key",
        "index_playback_formats_on_recording_id_and_format",
        "index_thumbnails_on_playback_format_id",
        "recordings_pkey",
        "callback_data_pkey",
        "index_metadata_on_key_and_value_and_recording_id",
        "index_recordings_on_starttime",
    ] {
        assert!(
            indexes.iter().any(|i| i == name),
            "missing index {name}: {indexes:?}"
        );
    }
    let unique: bool = sqlx::query_scalar(
        "SELECT indisunique FROM pg_index WHERE indexrelid = 'index_recordings_on_record_id'::regclass",
    )
    .fetch_one(env.pg())
    .await
    .unwrap();
    assert!(unique);
    let cols = columns(env.pg()).await;
    let col = |t: &str, c: &str| cols.iter().find(|x| x.0 == t && x.1 == c).cloned().unwrap();
    assert_eq!(col("recordings", "published").3, "NO");
    assert_eq!(col("recordings", "published").4.as_deref(), Some("false"));
    assert_eq!(
        col("recordings", "starttime").2,
        "timestamp without time zone"
    );
    assert_eq!(col("callback_data", "recording_id").2, "integer");
    assert_eq!(col("callback_data", "created_at").3, "NO");
    assert_eq!(col("metadata", "recording_id").2, "bigint");
    // Rails' bookkeeping marks the original's migrations as applied (a rollback does not recreate tables).
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(env.pg())
            .await
            .unwrap();
    assert_eq!(versions, ORIGINAL_VERSIONS);
    let env_name: String =
        sqlx::query_scalar("SELECT value FROM ar_internal_metadata WHERE key = 'environment'")
            .fetch_one(env.pg())
            .await
            .unwrap();
    assert_eq!(env_name, "production");
    env.cleanup().await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let env = TestEnv::new().await;
    let first = connect(&env).await;
    let shape = (index_names(env.pg()).await, columns(env.pg()).await);
    let second = connect(&env).await;
    drop((first, second));
    // Running the statements again by hand (as a half-applied upgrade might) changes nothing either.
    for file in [
        include_str!("../../../../migrations/postgres/20240101000001_scalelite_schema.sql"),
        include_str!("../../../../migrations/postgres/20240101000002_recording_query_indexes.sql"),
    ] {
        sqlx::raw_sql(file).execute(env.pg()).await.unwrap();
    }
    assert_eq!(
        (index_names(env.pg()).await, columns(env.pg()).await),
        shape
    );
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(env.pg())
        .await
        .unwrap();
    assert_eq!(applied, 2);
    let rails: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations")
        .fetch_one(env.pg())
        .await
        .unwrap();
    assert_eq!(rails, 6);
    env.cleanup().await;
}

/// The schema as the original's migrations (not schema.rb) leave it: `published`/`protected` nullable without
/// default, `publish_updated` nullable with default false, the tenants table created then dropped.
const ORIGINAL_MIGRATED_SCHEMA: &str = r#"
CREATE TABLE metadata (id bigserial PRIMARY KEY, recording_id bigint, key character varying, value character varying);
CREATE UNIQUE INDEX index_metadata_on_recording_id_and_key ON metadata USING btree (recording_id, key);
CREATE TABLE playback_formats (id bigserial PRIMARY KEY, recording_id bigint, format character varying,
    url character varying, length integer, processing_time integer);
CREATE UNIQUE INDEX index_playback_formats_on_recording_id_and_format ON playback_formats USING btree (recording_id, format);
CREATE TABLE recordings (id bigserial PRIMARY KEY, record_id character varying, meeting_id character varying,
    name character varying, published boolean, participants integer, state character varying,
    starttime timestamp without time zone, endtime timestamp without time zone, deleted_at timestamp without time zone);
CREATE INDEX index_recordings_on_meeting_id ON recordings USING btree (meeting_id);
CREATE UNIQUE INDEX index_recordings_on_record_id ON recordings USING btree (record_id);
CREATE TABLE thumbnails (id bigserial PRIMARY KEY, playback_format_id bigint, width integer, height integer,
    alt character varying, url character varying, sequence integer);
CREATE INDEX index_thumbnails_on_playback_format_id ON thumbnails USING btree (playback_format_id);
CREATE TABLE callback_data (id bigserial PRIMARY KEY, meeting_id character varying, recording_id integer,
    callback_attributes text, created_at timestamp(6) without time zone NOT NULL,
    updated_at timestamp(6) without time zone NOT NULL);
CREATE TABLE schema_migrations (version character varying PRIMARY KEY);
CREATE TABLE ar_internal_metadata (key character varying PRIMARY KEY, value character varying,
    created_at timestamp(6) without time zone NOT NULL, updated_at timestamp(6) without time zone NOT NULL);
INSERT INTO ar_internal_metadata VALUES ('environment', 'production', now(), now());
"#;

const LATER_COLUMNS: &str = r#"
ALTER TABLE recordings ADD COLUMN protected boolean;
ALTER TABLE recordings ADD COLUMN publish_updated boolean DEFAULT false;
"#;

const ORIGINAL_DATA: &str = r#"
INSERT INTO recordings (record_id, meeting_id, name, published, participants, state, starttime, endtime)
VALUES ('old-1', 'meet-1', 'Old', NULL, 2, 'published', '2021-03-04 05:06:07', '2021-03-04 06:06:07'),
       ('old-2', 'meet-1', 'Older', true, NULL, 'unpublished', '2020-01-01 00:00:00', NULL);
INSERT INTO metadata (recording_id, key, value) VALUES (1, 'bbb-origin', 'Greenlight'), (2, 'isBreakout', 'false');
INSERT INTO playback_formats (recording_id, format, url, length) VALUES (1, 'presentation', '/playback/presentation/2.0/playback.html?meetingId=old-1', 3);
INSERT INTO thumbnails (playback_format_id, width, height, alt, url, sequence) VALUES (1, 176, 136, 'x', '/presentation/old-1/t.png', 0);
INSERT INTO callback_data (meeting_id, callback_attributes, created_at, updated_at)
VALUES ('meet-1', E'---\n:recording_ready_url: https://old.example/ready\n', now(), now());
"#;

async fn build_original(db: &TestDb, versions: &[&str], later_columns: bool) {
    sqlx::raw_sql(ORIGINAL_MIGRATED_SCHEMA)
        .execute(&db.pool)
        .await
        .unwrap();
    if later_columns {
        sqlx::raw_sql(LATER_COLUMNS)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    for v in versions {
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(v)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    sqlx::raw_sql(ORIGINAL_DATA)
        .execute(&db.pool)
        .await
        .unwrap();
    if later_columns {
        // Rows from before the columns existed keep NULL.
        sqlx::query("UPDATE recordings SET publish_updated = NULL WHERE record_id = 'old-2'")
            .execute(&db.pool)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn adopts_a_database_built_by_the_originals_migrations() {
    let env = TestEnv::new().await;
    build_original(env.db(), &ORIGINAL_VERSIONS, true).await;
    let before_data = data_digest(env.pg()).await;
    let before_cols = columns(env.pg()).await;

    let store = connect(&env).await;
    assert_eq!(data_digest(env.pg()).await, before_data, "data untouched");
    assert_eq!(
        columns(env.pg()).await,
        before_cols,
        "existing columns untouched (still nullable)"
    );
    let indexes = index_names(env.pg()).await;
    assert!(
        indexes
            .iter()
            .any(|i| i == "index_metadata_on_key_and_value_and_recording_id")
    );
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM schema_migrations")
        .fetch_one(env.pg())
        .await
        .unwrap();
    assert_eq!(versions, 6);

    // NULL booleans read as false.
    let old1 = store.get_recording("old-1").await.unwrap();
    assert!(!old1.published && !old1.protected && !old1.publish_updated);
    assert_eq!(
        old1.metadata,
        [("bbb-origin".to_owned(), "Greenlight".to_owned())]
    );
    assert_eq!(old1.playback_formats[0].thumbnails.len(), 1);
    let all = store
        .find_recordings(&RecordingFilter::default())
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|r| r.record_id.as_str()).collect();
    assert_eq!(ids, ["old-1", "old-2"]);
    assert_eq!(
        store
            .get_callback_data(None, "meet-1")
            .await
            .unwrap()
            .unwrap()
            .recording_ready_url
            .as_deref(),
        Some("https://old.example/ready")
    );
    // And writes work on the nullable columns.
    store.set_protected("old-2", true).await.unwrap();
    assert!(store.get_recording("old-2").await.unwrap().protected);
    env.cleanup().await;
}

#[tokio::test]
async fn adds_columns_missing_from_an_older_original() {
    let env = TestEnv::new().await;
    // At 20210425184558: no `protected`, no `publish_updated`.
    build_original(env.db(), &ORIGINAL_VERSIONS[..2], false).await;
    let before_data = data_digest(env.pg()).await;
    let store = connect(&env).await;
    let cols = columns(env.pg()).await;
    for c in ["protected", "publish_updated"] {
        let col = cols
            .iter()
            .find(|x| x.0 == "recordings" && x.1 == c)
            .unwrap();
        assert_eq!(
            (col.3.as_str(), col.4.as_deref()),
            ("NO", Some("false")),
            "{c}"
        );
    }
    let old = store.get_recording("old-2").await.unwrap();
    assert!(old.published && !old.protected);
    // Only the two new columns changed in every row (filled with false).
    let after: Vec<(String, Option<String>)> = data_digest(env.pg()).await;
    assert_eq!(after[1..], before_data[1..], "other tables untouched");
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(env.pg())
            .await
            .unwrap();
    assert_eq!(versions, ORIGINAL_VERSIONS);
    env.cleanup().await;
}
