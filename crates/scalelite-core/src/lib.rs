//! Shared core of the Scalelite services.
//!
//! Layout:
//! - `bbb`: the BBB protocol without I/O (checksums, parameters, outbound URLs, XML).
//! - `config`: every environment variable of the original, parsed once into typed values.
//! - `domain`: servers, meetings, tenants, recordings.
//! - `storage`: the storage interface and its two back-ends (production: Redis + PostgreSQL; embedded: SQLite).
//! - `telemetry`, `shutdown`: logging set-up and graceful shutdown shared by the binaries.

pub mod bbb;
pub mod config;
pub mod domain;
pub mod shutdown;
pub mod storage;
pub mod telemetry;
