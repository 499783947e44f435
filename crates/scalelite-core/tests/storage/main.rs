//! Storage integration tests (one test binary).

mod faults;
mod interop;
mod migrations;
mod pg_support;
mod production;
mod proxy;
