//! The value parsers behind every configuration field.
//!
//! Each field's `#[arg(value_parser = ...)]` names one of the `EnvValue` constructors below, so the binaries (clap
//! reading the process environment) and the tests (`from_env_map`) go through exactly the same code. Two rules hold
//! for every parser:
//!
//! - A blank value (empty or whitespace) of a variable that has a default means the default. A blank value of a
//!   variable without a default reaches the parser as it is (an empty string is meaningful for some variables, e.g.
//!   `LOADBALANCER_CHECKSUM_ALGORITHM`).
//! - A bad value is rejected with one line naming the variable:
//!   `invalid value "abc" for RESPONSE_TIMEOUT: expected a number of seconds`. Values of secret variables are
//!   never echoed (their parsers accept any text).

use std::ffi::OsStr;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Arg, Command};

use super::{LogFormat, LogLevel};
use crate::bbb::checksum::{AllowedAlgorithms, ChecksumConfigError};
use crate::domain::Secret;

/// A clap value parser built from a plain function `&str -> Result<T, expected>`, where `expected` completes the
/// sentence "invalid value ... for VAR: <expected>".
#[derive(Clone, Copy)]
pub struct EnvValue<T> {
    parse: fn(&str) -> Result<T, String>,
}

impl<T> EnvValue<T> {
    const fn new(parse: fn(&str) -> Result<T, String>) -> Self {
        Self { parse }
    }
}

/// The variable an argument reads: its env name, else (in `from_env_map`, which detaches clap from the process
/// environment) its `--long` name in upper case with `_` for `-`, which is the same for every field here.
fn variable_name(arg: Option<&Arg>) -> String {
    let Some(arg) = arg else {
        return "a configuration variable".to_owned();
    };
    if let Some(env) = arg.get_env() {
        return env.to_string_lossy().into_owned();
    }
    match arg.get_long() {
        Some(long) => long.to_ascii_uppercase().replace('-', "_"),
        None => arg.get_id().to_string(),
    }
}

/// The one-line clap error for a bad value. The trailing newline is what clap expects of a raw message.
fn invalid(variable: &str, value: Option<&str>, expected: &str) -> clap::Error {
    let message = match value {
        Some(value) => format!("invalid value {value:?} for {variable}: {expected}\n"),
        None => format!("invalid value for {variable}: {expected}\n"),
    };
    clap::Error::raw(ErrorKind::ValueValidation, message)
}

impl<T: Clone + Send + Sync + 'static> TypedValueParser for EnvValue<T> {
    type Value = T;

    fn parse_ref(
        &self,
        _cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let Some(text) = value.to_str() else {
            return Err(invalid(&variable_name(arg), None, "expected UTF-8 text"));
        };
        let default = arg
            .and_then(|arg| arg.get_default_values().first())
            .and_then(|default| default.to_str());
        let text = match default {
            Some(default) if text.trim().is_empty() => default,
            _ => text,
        };
        (self.parse)(text).map_err(|expected| invalid(&variable_name(arg), Some(text), &expected))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Constructors used in the `#[arg(value_parser = ...)]` attributes.

/// Booleans: `true/false/yes/no/1/0/on/off` in any case; empty means the default.
pub const fn bool() -> EnvValue<bool> {
    EnvValue::new(parse_bool)
}

/// Any text, kept as it is.
pub const fn string() -> EnvValue<String> {
    EnvValue::new(|text| Ok(text.to_owned()))
}

/// Any text, kept as a redacted `Secret`.
pub const fn secret() -> EnvValue<Secret> {
    EnvValue::new(|text| Ok(Secret::new(text)))
}

/// A file-system path.
pub const fn path() -> EnvValue<PathBuf> {
    EnvValue::new(|text| Ok(PathBuf::from(text)))
}

/// Any text, or nothing when blank.
pub const fn optional_string() -> EnvValue<Option<String>> {
    EnvValue::new(|text| Ok(non_blank(text).map(str::to_owned)))
}

/// A secret, or nothing when blank.
pub const fn optional_secret() -> EnvValue<Option<Secret>> {
    EnvValue::new(|text| Ok((!text.trim().is_empty()).then(|| Secret::new(text))))
}

/// A path, or nothing when blank.
pub const fn optional_path() -> EnvValue<Option<PathBuf>> {
    EnvValue::new(|text| Ok(non_blank(text).map(PathBuf::from)))
}

/// A whole number (`u32`).
pub const fn count() -> EnvValue<u32> {
    EnvValue::new(|text| parse_u32(text, 0, u32::MAX))
}

/// A whole number of at least one.
pub const fn positive_count() -> EnvValue<u32> {
    EnvValue::new(|text| parse_u32(text, 1, u32::MAX))
}

/// A number of digits for a generated voice bridge (1 to 18, so it fits a 64-bit number).
pub const fn digits() -> EnvValue<u32> {
    EnvValue::new(|text| parse_u32(text, 1, 18))
}

/// A TCP port (1 to 65535).
pub const fn port() -> EnvValue<u16> {
    EnvValue::new(|text| match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err("expected a port number from 1 to 65535".to_owned()),
    })
}

/// Seconds, fractions allowed (`0.5`).
pub const fn seconds_f64() -> EnvValue<Duration> {
    EnvValue::new(parse_seconds_f64)
}

/// Seconds, fractions allowed, more than zero.
pub const fn positive_seconds_f64() -> EnvValue<Duration> {
    EnvValue::new(|text| match parse_seconds_f64(text) {
        Ok(duration) if !duration.is_zero() => Ok(duration),
        _ => Err("expected a number of seconds greater than 0".to_owned()),
    })
}

/// A whole number (`u64`): a size in bytes, a number of entries.
pub const fn whole_number() -> EnvValue<u64> {
    EnvValue::new(|text| {
        text.trim()
            .parse::<u64>()
            .map_err(|_| "expected a whole number".to_owned())
    })
}

/// Whole seconds.
pub const fn seconds() -> EnvValue<Duration> {
    EnvValue::new(|text| parse_whole(text, 1, "seconds"))
}

/// Whole minutes.
pub const fn minutes() -> EnvValue<Duration> {
    EnvValue::new(|text| parse_whole(text, 60, "minutes"))
}

/// Whole minutes, or nothing when blank.
pub const fn optional_minutes() -> EnvValue<Option<Duration>> {
    EnvValue::new(|text| match non_blank(text) {
        None => Ok(None),
        Some(text) => parse_whole(text, 60, "minutes").map(Some),
    })
}

/// A comma-separated list (entries trimmed, empty entries dropped).
pub const fn comma_list() -> EnvValue<Vec<String>> {
    EnvValue::new(|text| Ok(split_list(text, ',')))
}

/// A colon-separated list (entries trimmed, empty entries dropped).
pub const fn colon_list() -> EnvValue<Vec<String>> {
    EnvValue::new(|text| Ok(split_list(text, ':')))
}

/// A `k=v,k2=v2` parameter map.
pub const fn param_map() -> EnvValue<Vec<(String, String)>> {
    EnvValue::new(parse_param_map)
}

/// A puma-style bind address, or nothing when blank.
pub const fn bind_address() -> EnvValue<Option<SocketAddr>> {
    EnvValue::new(|text| match non_blank(text) {
        None => Ok(None),
        Some(text) => parse_bind(text).map(Some),
    })
}

/// `LOADBALANCER_CHECKSUM_ALGORITHM`, set (possibly to an empty value), parsed by the checksum module's own
/// parser: `AllowedAlgorithms::parse(Some(text))`. Unset never reaches a value parser; the field is then `None`.
pub const fn checksum_algorithms() -> EnvValue<AllowedAlgorithms> {
    EnvValue::new(parse_checksum_algorithms)
}

/// `RAILS_LOG_LEVEL`, or nothing when blank.
pub const fn log_level() -> EnvValue<Option<LogLevel>> {
    EnvValue::new(|text| match non_blank(text) {
        None => Ok(None),
        Some(text) => parse_log_level(text).map(Some),
    })
}

/// `LOG_FORMAT`.
pub const fn log_format() -> EnvValue<LogFormat> {
    EnvValue::new(parse_log_format)
}

/// `RUST_LOG`: a tracing `EnvFilter` directive list, checked now so a typo fails start-up. Blank means unset.
pub const fn env_filter() -> EnvValue<Option<String>> {
    EnvValue::new(|text| match non_blank(text) {
        None => Ok(None),
        Some(text) => tracing_subscriber::EnvFilter::builder()
            .parse(text)
            .map(|_| Some(text.to_owned()))
            .map_err(|err| format!("expected tracing filter directives ({err})")),
    })
}

// ---------------------------------------------------------------------------------------------------------------
// The parsing functions themselves.

fn non_blank(text: &str) -> Option<&str> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then_some(trimmed)
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" | "" => Ok(false),
        _ => Err("expected true/false, yes/no, 1/0 or on/off".to_owned()),
    }
}

fn parse_u32(text: &str, min: u32, max: u32) -> Result<u32, String> {
    let expected = || {
        if max == u32::MAX {
            if min == 0 {
                "expected a whole number".to_owned()
            } else {
                format!("expected a whole number of at least {min}")
            }
        } else {
            format!("expected a whole number from {min} to {max}")
        }
    };
    let number: u32 = text.trim().parse().map_err(|_| expected())?;
    if (min..=max).contains(&number) {
        Ok(number)
    } else {
        Err(expected())
    }
}

fn parse_seconds_f64(text: &str) -> Result<Duration, String> {
    let expected = || "expected a number of seconds".to_owned();
    let seconds: f64 = text.trim().parse().map_err(|_| expected())?;
    Duration::try_from_secs_f64(seconds).map_err(|_| expected())
}

fn parse_whole(text: &str, unit_seconds: u64, unit: &str) -> Result<Duration, String> {
    let expected = || format!("expected a whole number of {unit}");
    let count: u64 = text.trim().parse().map_err(|_| expected())?;
    count
        .checked_mul(unit_seconds)
        .map(Duration::from_secs)
        .ok_or_else(expected)
}

fn split_list(text: &str, separator: char) -> Vec<String> {
    text.split(separator)
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Split on `,`, then each entry on its first `=`. Keys and values are kept exactly (a value may contain `=` but
/// not `,`); empty entries are skipped. A repeated key keeps its first position and takes the last value, as the
/// original's Ruby hash does.
fn parse_param_map(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut map: Vec<(String, String)> = Vec::new();
    for entry in text.split(',').filter(|entry| !entry.is_empty()) {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!(
                "expected key=value entries separated by commas, got {entry:?}"
            ));
        };
        match map.iter_mut().find(|(existing, _)| existing == key) {
            Some(slot) => slot.1 = value.to_owned(),
            None => map.push((key.to_owned(), value.to_owned())),
        }
    }
    Ok(map)
}

/// puma's `BIND` (`tcp://host:port`) or a plain `host:port`; the host is an IP address, `[v6]`, or `localhost`.
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    let expected = || {
        "expected tcp://HOST:PORT or HOST:PORT with an IP address (or localhost) and a port"
            .to_owned()
    };
    let address = text.strip_prefix("tcp://").unwrap_or(text);
    if address.contains("://") {
        return Err(expected());
    }
    let address = address.trim_end_matches('/');
    if let Ok(socket) = address.parse::<SocketAddr>() {
        return Ok(socket);
    }
    let (host, port) = address.rsplit_once(':').ok_or_else(expected)?;
    let port: u16 = port.parse().map_err(|_| expected())?;
    let ip: IpAddr = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => host.parse().map_err(|_| expected())?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn parse_checksum_algorithms(text: &str) -> Result<AllowedAlgorithms, String> {
    // `ChecksumConfigError`'s own message starts with the variable's name, which `invalid` already writes, so
    // only the "expected ..." part is rendered here.
    AllowedAlgorithms::parse(Some(text)).map_err(|err| match err {
        ChecksumConfigError::UnknownAlgorithm { entry } => format!(
            "expected a ':'-separated list of SHA1, SHA256, SHA384 and SHA512 (upper-case), got {entry:?}"
        ),
    })
}

fn parse_log_level(text: &str) -> Result<LogLevel, String> {
    match text.to_ascii_lowercase().as_str() {
        "trace" => Ok(LogLevel::Trace),
        "debug" => Ok(LogLevel::Debug),
        "info" => Ok(LogLevel::Info),
        "warn" | "warning" => Ok(LogLevel::Warn),
        "error" | "fatal" | "unknown" => Ok(LogLevel::Error),
        _ => Err("expected debug, info, warn, error or fatal".to_owned()),
    }
}

fn parse_log_format(text: &str) -> Result<LogFormat, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "plain" => Ok(LogFormat::Plain),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected plain or json".to_owned()),
    }
}
