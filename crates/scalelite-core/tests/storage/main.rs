//! Storage contract suite: the same cases, written once against the storage traits, run against every back-end.
//!
//! - `contract`: the generic cases and `contract_suite!`, which expands one `#[tokio::test]` per case for a
//!   back-end given an async constructor of an isolated store.
//! - `sqlite`: the suite on the embedded back-end (a fresh file per test) plus SQLite-only cases (several stores
//!   on one file, as several processes would open it).
//! - `production`: the suite on Redis + PostgreSQL (a namespace and a database per test), plus production-only
//!   cases; `interop` (the original's layout, both ways), `migrations`, `faults` (outages through `proxy`);
//!   `pg_support` isolates each test's Redis namespace and PostgreSQL database.

mod contract;
mod faults;
mod interop;
mod migrations;
mod pg_support;
mod production;
mod proxy;
mod sqlite;
