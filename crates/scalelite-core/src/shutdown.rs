//! Graceful shutdown shared by the binaries.
//!
//! SIGTERM (what systemd and `docker stop` send) and SIGINT (Ctrl-C) both mean the same: stop taking new work,
//! finish what is in flight, exit. The API stops accepting connections and completes the requests it has; the poller
//! finishes the cycle step it is in (never a half-written update); the importer finishes the archive in hand and
//! leaves the spool consistent. The wait is bounded by `SHUTDOWN_GRACE_PERIOD`: after it the binary exits anyway,
//! whatever is still running.
//!
//! A binary's `main` does, in outline:
//!
//! ```text
//! let shutdown = Shutdown::new();
//! shutdown::on_signal(shutdown.clone());
//! shutdown.spawn(service::run(config, store, shutdown.clone()));
//! shutdown.cancelled().await;                  // a signal, or a task that failed and triggered it
//! if !shutdown.drain(grace_period).await { /* log what is abandoned, exit non-zero */ }
//! ```
//!
//! Every service loop takes a `Shutdown` (or its token) as a parameter, so tests stop services deterministically
//! with `trigger()` instead of signals.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::{
    CancellationToken, WaitForCancellationFuture, WaitForCancellationFutureOwned,
};
use tokio_util::task::TaskTracker;

/// The shutdown switch of one process, cheap to clone: every clone sees the same trigger and the same set of
/// tracked tasks.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A switch not yet triggered, tracking no task.
    pub fn new() -> Self {
        Self::default()
    }

    /// The underlying cancellation token (a clone), for code that selects on `token.cancelled()` or needs a
    /// `child_token()`.
    pub fn token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Start shutting down. Idempotent.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown has started (at once if it already has).
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// Like [`Shutdown::cancelled`] but `'static`, e.g. for `axum::serve(..).with_graceful_shutdown(..)`.
    pub fn cancelled_owned(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// The tracker of the tasks [`Shutdown::drain`] waits for.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Spawn a task that [`Shutdown::drain`] will wait for. Must be called inside a tokio runtime.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Wait at most `grace` for every tracked task to finish, and return whether they all did. No new task can be
    /// tracked afterwards. Does not trigger shutdown by itself: tasks that are not told to stop will not stop.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}

/// The signal that asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM: systemd, `docker stop`, `kill`.
    Terminate,
    /// SIGINT: Ctrl-C.
    Interrupt,
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        })
    }
}

/// Install the SIGTERM and SIGINT handlers now (inside a tokio runtime) and resolve on the first of them received
/// from then on. Installing at the call, not at the first poll, matters to a service that says it is ready right
/// after spawning the wait: a signal sent in between would otherwise meet the default action and kill the process.
/// If a handler cannot be installed, that is logged and only the other signal is waited for.
#[cfg(unix)]
pub fn signal() -> impl std::future::Future<Output = Signal> + Send {
    use tokio::signal::unix::{SignalKind, signal};

    let install = |kind: SignalKind, name: &str| match signal(kind) {
        Ok(stream) => Some(stream),
        Err(err) => {
            tracing::error!(error.message = %err, "could not install the {name} handler");
            None
        }
    };
    let mut terminate = install(SignalKind::terminate(), "SIGTERM");
    let mut interrupt = install(SignalKind::interrupt(), "SIGINT");
    async move {
        tokio::select! {
            Some(()) = recv(&mut terminate) => Signal::Terminate,
            Some(()) = recv(&mut interrupt) => Signal::Interrupt,
            else => std::future::pending().await,
        }
    }
}

/// The next delivery of a signal, or `None` at once when there is no handler (which disables that branch).
#[cfg(unix)]
async fn recv(stream: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => None,
    }
}

/// Resolves on the first Ctrl-C (the only signal there is on this platform).
#[cfg(not(unix))]
pub fn signal() -> impl std::future::Future<Output = Signal> + Send {
    async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(err) => {
                tracing::error!(error.message = %err, "could not install the Ctrl-C handler");
                std::future::pending().await
            }
        }
    }
}

/// Whether a service's SIGTERM/SIGINT trigger its shutdown (the binaries) or are left alone (a caller that stops the
/// service itself, e.g. a test through `run_until`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signals {
    Handle,
    Ignore,
}

impl Signals {
    /// With `Handle`, [`on_signal`] for `shutdown`; with `Ignore`, nothing.
    pub fn install(self, shutdown: &Shutdown) {
        if self == Signals::Handle {
            on_signal(shutdown.clone());
        }
    }
}

/// Spawn a task that triggers `shutdown` on SIGTERM or SIGINT, logging which. The task ends when it has
/// triggered, or when shutdown was triggered by something else first. Must be called inside a tokio runtime.
pub fn on_signal(shutdown: Shutdown) -> JoinHandle<()> {
    // Installed here, before the caller goes on to say it is ready.
    let received = signal();
    tokio::spawn(async move {
        tokio::select! {
            received = received => {
                tracing::info!(signal = %received, "received {received}, shutting down gracefully");
                shutdown.trigger();
            }
            () = shutdown.cancelled() => {}
        }
    })
}

#[cfg(test)]
mod tests;
