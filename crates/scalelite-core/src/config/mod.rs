//! Configuration: every environment variable of the original Scalelite, parsed once into typed values.
//!
//! Each concern has a clap `Args` struct (`SecretsArgs`, `BbbClientArgs`, `MeetingArgs`, `PollerArgs`,
//! `RecordingArgs`, `StorageArgs`, `HttpArgs`, `MetricsArgs`, `ShutdownArgs`, `LogArgs`, `MiscArgs`). Every field is
//! `#[arg(long, env = "ORIGINAL_NAME")]` with the original's default, and its doc comment is the `--help` text. A
//! binary `#[command(flatten)]`s the structs it needs, so its `--help` lists exactly what it reads.
//!
//! The values are parsed by the functions in [`parse`], on both paths: clap reading the process environment (the
//! binaries) and [`from_env_map`] (tests and anything else that must not touch the process environment). Rules
//! shared by every variable:
//!
//! - **Empty means default.** A blank value of a variable that has a default is the same as leaving it unset. An
//!   optional variable left blank is `None`, except where the empty string means something
//!   (`LOADBALANCER_CHECKSUM_ALGORITHM`, `FSAPI_PASSWORD`).
//! - **Booleans** accept `true/false/yes/no/1/0/on/off` in any case, and empty (the default). Anything else fails
//!   start-up. The original treats a value as true iff it equals `true` case-insensitively and everything else as
//!   false (`S3_RECORDING`: any value at all as true); we reject what it would have silently read as false.
//! - **A bad value fails start-up with one line naming the variable**, e.g.
//!   `invalid value "abc" for RESPONSE_TIMEOUT: expected a number of seconds`. Secret values are never echoed.
//! - Variables the original reads but which mean nothing here are accepted and ignored: [`IGNORED_VARIABLES`].
//!   [`ENV_VARS`] lists every variable we read, with its default and meaning (the README table is built from it).

mod args;
pub mod parse;
mod vars;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches};

pub use args::{
    BbbClientArgs, HttpArgs, LogArgs, MeetingArgs, MetricsArgs, MiscArgs, PollerArgs,
    RecordingArgs, SecretsArgs, ShutdownArgs, StorageArgs,
};
pub use vars::{ENV_VARS, IGNORED_VARIABLES};

/// A configuration that cannot be used. The message is one line and names the variable(s) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A variable's value could not be parsed.
    #[error("{0}")]
    Value(String),
    /// Each value is fine on its own but the combination is not (e.g. `REDIS_URL` without `DATABASE_URL`).
    #[error("{0}")]
    Combination(String),
}

/// Parse a configuration struct from an explicit environment map instead of the process environment.
///
/// Runs the same clap parser and value parsers as the binaries, with clap detached from the process environment:
/// only the variables in `env` are seen, everything else takes its default. Works for any `Args` struct (or a
/// binary's flattened set of them) whose environment-backed arguments all have a `--long` name; arguments without
/// an env name keep their defaults.
///
/// # Errors
/// [`ConfigError::Value`] naming the first variable whose value is bad.
pub fn from_env_map<T: Args + FromArgMatches>(
    env: &HashMap<String, String>,
) -> Result<T, ConfigError> {
    let mut argv: Vec<String> = Vec::new();
    let command = T::augment_args(Command::new("scalelite").no_binary_name(true)).mut_args(|arg| {
        let Some(name) = arg
            .get_env()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            return arg;
        };
        if let (Some(value), Some(long)) = (env.get(&name), arg.get_long()) {
            argv.push(format!("--{long}={value}"));
        }
        // Detach from the process environment. Error messages then name the variable after the `--long` flag,
        // which is the variable's name in lower case (checked by a unit test).
        arg.env(None)
    });
    let matches = command.try_get_matches_from(argv).map_err(clap_error)?;
    T::from_arg_matches(&matches).map_err(clap_error)
}

/// The one-line message of a clap error, without clap's `error: ` prefix and usage hints.
fn clap_error(err: clap::Error) -> ConfigError {
    let rendered = err.render().to_string();
    let line = rendered.lines().next().unwrap_or_default();
    ConfigError::Value(line.strip_prefix("error: ").unwrap_or(line).to_owned())
}

/// Parse from an explicit environment map; implemented for every `Args` struct (see [`from_env_map`]).
pub trait FromEnvMap: Sized {
    /// See [`from_env_map`].
    ///
    /// # Errors
    /// [`ConfigError::Value`] naming the first variable whose value is bad.
    fn from_env_map(env: &HashMap<String, String>) -> Result<Self, ConfigError>;
}

impl<T: Args + FromArgMatches> FromEnvMap for T {
    fn from_env_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        from_env_map(env)
    }
}

/// `RAILS_LOG_LEVEL` mapped onto tracing's levels (`fatal` and `unknown` are `Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `trace`.
    Trace,
    /// `debug`.
    Debug,
    /// `info`.
    Info,
    /// `warn`.
    Warn,
    /// `error`, `fatal`, `unknown`.
    Error,
}

impl LogLevel {
    /// The tracing filter name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// `LOG_FORMAT`: how log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event: timestamp, level, target, message and fields.
    #[default]
    Plain,
    /// One JSON object per line.
    Json,
}

/// Which storage back-end the services use, as decided by [`StorageArgs::backend`].
#[derive(Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// One SQLite file for everything.
    Embedded {
        /// The SQLite database file.
        path: PathBuf,
    },
    /// Redis for live state and PostgreSQL for recordings, with the original's layout.
    Production {
        /// The PostgreSQL URL (`DATABASE_URL`); may carry a password, see [`redact_url`].
        database_url: String,
        /// The Redis URL (`REDIS_URL`, default `redis://localhost:6379`); may carry a password.
        redis_url: String,
        /// The key prefix (`REDIS_NAMESPACE`), without the `:` separator.
        namespace: String,
        /// `REDIS_POOL`.
        redis_pool: u32,
        /// `REDIS_TIMEOUT`: the bound of one Redis operation.
        redis_timeout: Duration,
        /// `PREPARED_STATEMENT`.
        prepared_statements: bool,
    },
}

impl fmt::Debug for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embedded { path } => f.debug_struct("Embedded").field("path", path).finish(),
            Self::Production {
                database_url,
                redis_url,
                namespace,
                redis_pool,
                redis_timeout,
                prepared_statements,
            } => f
                .debug_struct("Production")
                .field("database_url", &redact_url(database_url))
                .field("redis_url", &redact_url(redis_url))
                .field("namespace", namespace)
                .field("redis_pool", redis_pool)
                .field("redis_timeout", redis_timeout)
                .field("prepared_statements", prepared_statements)
                .finish(),
        }
    }
}

/// A URL fit for logs: any password replaced by `***`. Text that is not a URL is not shown at all.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "<URL with credentials>".to_owned();
            }
            parsed.to_string()
        }
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests;
