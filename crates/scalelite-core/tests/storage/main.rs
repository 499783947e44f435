//! Storage contract suite: the same cases, written once against the storage traits, run against every back-end.
//!
//! - `contract`: the generic cases and `contract_suite!`, which expands one `#[tokio::test]` per case for a
//!   back-end given an async constructor of an isolated store.
//! - `sqlite`: the suite on the embedded back-end (a fresh file per test) plus SQLite-only cases (several stores
//!   on one file, as several processes would open it).

mod contract;
mod sqlite;
