//! Shared core of the Scalelite services.
//!
//! Layout:
//! - `bbb`: the BBB protocol without I/O (checksums, parameters, outbound URLs, XML).
//! - `bbb_client`: the one HTTP client for calls to BBB servers.
//! - `jwt`: HMAC JSON Web Tokens (callbacks, protected recordings).
//! - `paths`: the one sanitising join for paths from requests and archives.
//! - `s3`: the S3 client of recording storage (`S3_RECORDING`), with its own Signature V4.
//! - `config`: every environment variable of the original, parsed once into typed values.
//! - `domain`: servers, meetings, tenants, recordings.
//! - `management`: operator actions on servers, meetings, tenants and recordings (the CLI and the admin API).
//! - `storage`: the storage interface and its two back-ends (production: Redis + PostgreSQL; embedded: SQLite).
//! - `telemetry`, `shutdown`: logging set-up and graceful shutdown shared by the binaries.
//! - `metrics_listener`: the `/metrics` listener (`METRICS_BIND`) of a standalone poller or importer.

pub mod bbb;
pub mod bbb_client;
pub mod config;
pub mod domain;
pub mod jwt;
pub mod management;
pub mod metrics_listener;
pub mod paths;
pub mod s3;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
