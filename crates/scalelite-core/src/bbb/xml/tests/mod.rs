//! Tests of `bbb::xml`: DOM helpers, parser hardening, writer escaping, exact-byte snapshots of every response
//! shape, BBB fixtures, and property tests.

mod bbb_response;
mod dom;
mod parse;
mod props;
mod recordings;
mod responses;
mod write;

/// The bytes of a fixture under `crates/scalelite-core/tests/fixtures/xml/`.
macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/xml/",
            $name
        ))
        .as_slice()
    };
}
pub(crate) use fixture;
