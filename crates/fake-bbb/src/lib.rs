//! Fake BigBlueButton servers, for testing the balancer and poller and for trying a front-end without BBB.
//!
//! - [`FakeServer`]: one fake BBB on its own 127.0.0.1 port with its own secret and in-memory meetings. It answers
//!   the calls Scalelite sends (index, create, join, end, isMeetingRunning, getMeetingInfo, getMeetings,
//!   insertDocument) with bbb-web's XML shapes, checks checksums like bbb-web ≥2.5.7, logs every request, and can
//!   be told to misbehave ([`Fault`]).
//! - [`FakeBbb`]: any number of them in one process, plus a JSON control API over HTTP (see [`control`]), which is
//!   what the `fake-bbb` binary serves.
//!
//! **Invariant:** this crate does not depend on `scalelite-core`. It verifies checksums with its own code, so a
//! checksum bug on one side is caught by the other.
//!
//! Layout: `checksum` (bbb-web's verification rules), `xml` (a tiny writer), `model` (state and public value types),
//! `api` (the BBB calls, no IO), `server` (listener, connections, faults), `control` (registry and control API).

mod api;
mod checksum;
pub mod control;
mod model;
mod server;
mod xml;

#[cfg(test)]
mod tests;

pub use control::{ControlServer, FakeBbb, ServerInfo};
pub use model::{
    AttendeeSnapshot, Fault, FaultSpec, InFlight, LoggedRequest, MeetingSnapshot, SeedMeeting,
};
pub use server::{DEFAULT_BBB_VERSION, FakeServer, ServerOptions};

/// The secret the `fake-bbb` binary and the control API use when none is given. For development only.
pub const DEV_SECRET: &str = "fake-bbb-dev-secret-not-for-production";

/// What can go wrong driving fake servers.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// The port could not be bound (in use, or no permission).
    #[error("could not bind 127.0.0.1:{port}")]
    Bind {
        /// The port asked for (0 = any).
        port: u16,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server was stopped and cannot change state any more.
    #[error("the fake server has been stopped")]
    Stopped,
    /// A seeded meeting is inconsistent.
    #[error("invalid seed meeting: {0}")]
    InvalidSeed(String),
    /// A fault description could not be understood.
    #[error("invalid fault: {0}")]
    InvalidFault(String),
}
