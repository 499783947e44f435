//! Operator actions: the one management layer behind `scalelite-cli` and the admin REST API (`/scalelite/api/*`).
//!
//! Everything an operator can do to the pool lives here once: add, update, remove, enable, cordon, disable and
//! panic servers, sync the pool with a YAML file (and dump it back), list and end meetings, manage tenants and their
//! settings, and the recording maintenance tasks. The CLI and the admin API only parse their input, call one of
//! these methods and render the answer (`docs/compatibility.md#cli`).
//!
//! - `servers`: server life cycle, state changes, panic, status rows.
//! - `sync`: `servers:sync` and `servers:yaml`.
//! - `meetings`: meeting lists, `getMeetingInfo` per meeting, ending meetings.
//! - `tenants`: tenants and tenant settings.
//! - `recordings`: `recordings:addToTenant`, `recordings:update`.
//! - `json`: the JSON shapes of servers and tenants (admin API and `--json`).
//!
//! Messages keep the original's wording where operators or clients may rely on it.

pub mod json;
mod meetings;
mod recordings;
mod servers;
pub mod sync;
mod tenants;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::bbb_client::BbbClient;
use crate::storage::StoreError;
use crate::storage::store::Store;

pub use meetings::{ClearedMeeting, MeetingInfo, PanicReport, ServerMeetings};
pub use recordings::MoveReport;
pub use servers::{NewServerRequest, ServerUpdate, StatusRow, zero_means_one};
pub use sync::SyncMode;
pub use tenants::KeycloakCredentials;

/// Which checks and defaults apply, resolved from the configuration.
#[derive(Clone, Debug)]
pub struct ManagementOptions {
    /// `SERVER_ID_IS_HOSTNAME`: new servers get their lower-case host name as id instead of a random UUID.
    pub server_id_is_hostname: bool,
    /// `MULTITENANCY_ENABLED`: tenant operations are refused without it.
    pub multitenancy: bool,
    /// How many BBB calls run at once when a task talks to many servers or meetings.
    pub concurrency: usize,
    /// `MEETING_FAILOVER`: `servers:panic` keeps the meetings of the server it disables, so that their next join
    /// or create makes them again on another server.
    pub meeting_failover: bool,
}

impl Default for ManagementOptions {
    fn default() -> Self {
        Self {
            server_id_is_hostname: false,
            multitenancy: false,
            concurrency: 8,
            meeting_failover: true,
        }
    }
}

/// Why an operator action failed. The messages are fit to show to the operator as they are.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// No server has this id.
    #[error("No server found with id: {0}")]
    ServerNotFound(String),
    /// No tenant has this id.
    #[error("Couldn't find Tenant with id={0}")]
    TenantNotFound(String),
    /// No tenant setting has this id.
    #[error("Couldn't find TenantSetting with id={0}")]
    TenantSettingNotFound(String),
    /// No live meeting has this id.
    #[error("Couldn't find Meeting with id={0}")]
    MeetingNotFound(String),
    /// An argument is missing or malformed; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// The change clashes with what is stored (duplicate id or name).
    #[error("{0}")]
    Conflict(String),
    /// A tenant operation while `MULTITENANCY_ENABLED` is off.
    #[error("Multitenancy is disabled, task can not be completed")]
    MultitenancyDisabled,
    /// `servers:sync` could not bring the pool in line with the file.
    #[error("{0}")]
    Sync(String),
    /// The URL and secret given for a server do not answer like a BBB API; nothing was saved.
    #[error(
        "{url} does not answer like a BigBlueButton API with this secret ({reason}); check the URL and the secret"
    )]
    NotBbb {
        /// The URL that was tried.
        url: String,
        /// What went wrong, without secrets or checksums.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManagementError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => ManagementError::Conflict(message),
            other => ManagementError::Store(other),
        }
    }
}

/// Result of a management operation.
pub type Result<T, E = ManagementError> = std::result::Result<T, E>;

/// The result of an operation plus notes for the operator (a defaulted multiplier, a corrected URL).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<T> {
    /// What the operation produced.
    pub value: T,
    /// Warnings, one line each, in the original's wording where it has one.
    pub notes: Vec<String>,
}

/// The management layer: the store, the BBB client for the calls some actions make (`end`, `getMeetings`,
/// `getMeetingInfo`), and the options. Cheap to clone.
#[derive(Clone)]
pub struct Management {
    store: Store,
    bbb: BbbClient,
    options: Arc<ManagementOptions>,
}

impl Management {
    /// A management layer over `store`, calling BBB servers through `bbb`.
    pub fn new(store: Store, bbb: BbbClient, options: ManagementOptions) -> Self {
        Self {
            store,
            bbb,
            options: Arc::new(options),
        }
    }

    /// The store, for reads the operations here do not cover.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The options in effect.
    pub fn options(&self) -> &ManagementOptions {
        &self.options
    }

    /// Run `f` over `items` with at most `options.concurrency` at once; the results keep the order of `items`.
    async fn bounded<T, R, F, Fut>(&self, items: Vec<T>, f: F) -> Vec<R>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Management, T) -> Fut,
        Fut: Future<Output = R> + Send + 'static,
    {
        let semaphore = Arc::new(Semaphore::new(self.options.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        let count = items.len();
        for (index, item) in items.into_iter().enumerate() {
            let semaphore = semaphore.clone();
            let future = f(self.clone(), item);
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                (index, future.await)
            });
        }
        let mut results: Vec<Option<R>> = (0..count).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((index, result)) => results[index] = Some(result),
                // A task only fails by panicking, which is a bug; its item is left out rather than taking the
                // operator's whole command down.
                Err(e) => tracing::error!(error = %e, "a management task failed"),
            }
        }
        results.into_iter().flatten().collect()
    }
}

/// Parse an operator boolean: `true/false/yes/no/1/0` in any case (`docs/compatibility.md#cli`); anything else is an
/// error naming `what`.
///
/// # Errors
/// [`ManagementError::Invalid`] for any other value.
pub fn parse_bool(what: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(ManagementError::Invalid(format!(
            "invalid value '{value}' for {what}: expected true, false, yes, no, 1 or 0"
        ))),
    }
}

/// Parse a load multiplier given as text: a finite decimal number (`1`, `2.5`). Whether 0 or a negative number is
/// acceptable is the operation's rule.
///
/// # Errors
/// [`ManagementError::Invalid`] when the text is not a finite number.
pub fn parse_load_multiplier(value: &str) -> Result<f64> {
    match value.trim().parse::<f64>() {
        Ok(number) if number.is_finite() => Ok(number),
        _ => Err(ManagementError::Invalid(format!(
            "invalid load multiplier '{value}': expected a number such as 1 or 2.5"
        ))),
    }
}

/// Format a number the way the original's Ruby prints a Float: `25.0`, `2.5`, `0.1`.
pub fn format_number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e16 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// A server URL after the checks of [`check_server_url`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The URL to store.
    pub url: String,
    /// The lower-case host name (the id with `SERVER_ID_IS_HOSTNAME`).
    pub host: String,
    /// Set when the given URL lacked the `/bigbluebutton/api/` path and `url` is the corrected one.
    pub corrected: bool,
}

/// The message for a URL that was corrected.
fn corrected_note(given: &str, url: &str) -> String {
    format!("NOTE: Server URL {given} does not end in /bigbluebutton/api/, so it is now {url}")
}

/// Check a BBB server URL: it must start with `http://` or `https://` and have a host. A URL whose path does not
/// end in `/bigbluebutton/api` (with or without the final `/`) gets that path appended, so
/// `https://bbb.example.com` becomes `https://bbb.example.com/bigbluebutton/api/` (query and fragment dropped).
///
/// # Errors
/// [`ManagementError::Invalid`] for another scheme or a URL that does not parse.
pub fn check_server_url(url: &str) -> Result<CheckedUrl> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ManagementError::Invalid(
            "Server URL must start with http:// or https://".to_owned(),
        ));
    }
    let parsed = url::Url::parse(url)
        .map_err(|e| ManagementError::Invalid(format!("invalid server URL {url}: {e}")))?;
    let host = parsed
        .host_str()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| ManagementError::Invalid(format!("invalid server URL {url}: no host")))?
        .to_ascii_lowercase();
    let path = parsed.path().trim_end_matches('/');
    if path.ends_with("/bigbluebutton/api") {
        return Ok(CheckedUrl {
            url: url.to_owned(),
            host,
            corrected: false,
        });
    }
    let mut fixed = parsed.clone();
    fixed.set_path(&format!("{path}/bigbluebutton/api/"));
    fixed.set_query(None);
    fixed.set_fragment(None);
    Ok(CheckedUrl {
        url: fixed.to_string(),
        host,
        corrected: true,
    })
}

/// Secrets are stored `:`-separated; empty entries are dropped (an empty secret must never match).
fn split_secrets(secrets: &str) -> Vec<crate::domain::Secret> {
    secrets
        .split(':')
        .map(str::trim)
        .filter(|secret| !secret.is_empty())
        .map(crate::domain::Secret::new)
        .collect()
}

/// The stored `:`-separated form of a tenant's secrets.
pub fn join_secrets(secrets: &[crate::domain::Secret]) -> String {
    secrets
        .iter()
        .map(crate::domain::Secret::expose)
        .collect::<Vec<_>>()
        .join(":")
}

/// Text of an optional argument: `None` when absent or blank (the original's Rake semantics: an empty argument is
/// "not given").
pub fn non_blank(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests;
