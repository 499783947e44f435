//! Test support shared by every package of the workspace.
//!
//! - `store`: a fresh, isolated store per test (a SQLite file in a temporary directory, or a fresh PostgreSQL
//!   database plus a unique Redis namespace), removed when the test ends, and the environment that makes a service
//!   process open that same store.
//! - `contract`: helpers of the configuration contract tests (signed calls, registering servers, waiting).
//! - `process`: the real service binaries run as child processes (`CARGO_BIN_EXE_<name>` in a package's
//!   integration tests), on a random port, with their log captured.
//!
//! - `s3`: a tiny in-memory S3 that checks Signature V4 with its own code, and `TestS3`, either it or moto.
//! - `moto`: moto's standalone S3 server (from PyPI) as a child process, a third-party S3 for the same tests.
//!
//! It depends on `scalelite-core` only, so the service packages can take it as a dev-dependency without a cycle.

pub mod contract;
pub mod moto;
pub mod process;
pub mod s3;
mod store;

pub use store::{Backend, TestStore, postgres_url, production_store, redis_url, test_store};

/// A CloudFront signing key for tests only (1024-bit RSA, PKCS#1 PEM, made with `openssl genrsa -traditional`).
pub const CLOUDFRONT_TEST_KEY: &str = include_str!("cloudfront-test-key.pem");
