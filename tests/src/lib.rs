//! End-to-end tests of Scalelite: the real services on random ports, real storage (a fresh SQLite file, or a fresh
//! PostgreSQL database plus a unique Redis namespace), and fake BBB servers that check checksums with their own
//! code. One test binary: `cargo test -p scalelite-e2e`.

pub mod harness;
pub mod proxy;
pub mod receiver;
pub use scalelite_testkit::s3;

#[cfg(test)]
mod cases;

/// Logs for tests: silent unless `TEST_LOG` is set.
pub fn init_logs() {
    scalelite_core::telemetry::init_for_tests();
}
