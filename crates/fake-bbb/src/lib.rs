//! Fake BBB servers.
