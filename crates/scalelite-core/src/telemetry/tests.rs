use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

use super::*;
use crate::config::{LogArgs, LogFormat, LogLevel};

/// A `MakeWriter` collecting everything written into one buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for Buffer {
    type Writer = BufferWriter;

    fn make_writer(&'writer self) -> Self::Writer {
        BufferWriter(Arc::clone(&self.0))
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn args(rust_log: Option<&str>, level: Option<LogLevel>, format: LogFormat) -> LogArgs {
    LogArgs {
        rust_log: rust_log.map(str::to_owned),
        rails_log_level: level,
        log_format: format,
    }
}

/// Run `emit` with the logger `args` describes and return what it wrote.
fn capture(args: &LogArgs, emit: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let subscriber = subscriber("scalelite-api", args, buffer.clone());
    tracing::subscriber::with_default(subscriber, emit);
    buffer.text()
}

#[test]
fn rust_log_wins_over_rails_log_level() {
    let args = args(
        Some("warn,scalelite_api=trace"),
        Some(LogLevel::Debug),
        LogFormat::Plain,
    );
    assert_eq!(
        filter_directives("scalelite-api", &args),
        "warn,scalelite_api=trace"
    );
}

#[test]
fn rails_log_level_defaults_to_info() {
    assert_eq!(
        filter_directives("scalelite-api", &LogArgs::default()),
        "info"
    );
}

#[test]
fn a_verbose_rails_log_level_applies_to_our_crates_only() {
    let args = args(None, Some(LogLevel::Debug), LogFormat::Plain);
    assert_eq!(
        filter_directives("scalelite-poller", &args),
        "info,scalelite_core=debug,scalelite_api=debug,scalelite_poller=debug,scalelite_recording_importer=debug,\
         scalelite_cli=debug,fake_bbb=debug,tower_http=debug"
    );
    // Another binary's own crate is added once.
    let directives = filter_directives("my-tool", &args);
    assert!(
        directives.ends_with(",tower_http=debug,my_tool=debug"),
        "{directives}"
    );
    // A name that is no target is left out rather than breaking the filter.
    let directives = filter_directives("bad name!", &args);
    assert!(directives.ends_with(",tower_http=debug"), "{directives}");
}

#[test]
fn a_quiet_rails_log_level_applies_to_everything() {
    assert_eq!(
        filter_directives(
            "scalelite-api",
            &args(None, Some(LogLevel::Warn), LogFormat::Plain)
        ),
        "warn"
    );
    assert_eq!(
        filter_directives(
            "scalelite-api",
            &args(None, Some(LogLevel::Error), LogFormat::Plain)
        ),
        "error"
    );
}

#[test]
fn every_directive_set_is_a_valid_filter() {
    for level in [
        LogLevel::Trace,
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Warn,
        LogLevel::Error,
    ] {
        let directives =
            filter_directives("scalelite-cli", &args(None, Some(level), LogFormat::Plain));
        assert!(
            EnvFilter::builder().parse(&directives).is_ok(),
            "{directives}"
        );
    }
}

#[test]
fn plain_lines_have_timestamp_level_target_message_and_fields() {
    let output = capture(&LogArgs::default(), || {
        tracing::info!(target: "scalelite_api::create", meeting_id = "m-1", "meeting created");
    });
    let line = output.lines().next().unwrap_or_default();
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(
        line.chars().next().is_some_and(|c| c.is_ascii_digit()),
        "no timestamp first: {line}"
    );
    assert!(line.contains("INFO"), "{line}");
    assert!(line.contains("scalelite_api::create"), "{line}");
    assert!(line.contains("meeting created"), "{line}");
    assert!(line.contains("meeting_id=\"m-1\""), "{line}");
    assert!(
        !line.contains('\u{1b}'),
        "colour codes in a non-terminal sink: {line}"
    );
}

#[test]
fn json_lines_are_objects_with_level_target_and_flattened_fields() {
    let output = capture(&args(None, None, LogFormat::Json), || {
        tracing::warn!(target: "scalelite_poller::poll", server_id = "bbb1", load = 3, "server offline");
    });
    assert_eq!(output.lines().count(), 1, "{output}");
    let line: serde_json::Value = serde_json::from_str(output.trim()).unwrap();
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "scalelite_poller::poll");
    assert_eq!(line["message"], "server offline");
    assert_eq!(line["server_id"], "bbb1");
    assert_eq!(line["load"], 3);
    assert!(line["timestamp"].is_string(), "{line}");
}

#[test]
fn the_filter_is_applied() {
    let emit = || {
        tracing::debug!(target: "scalelite_api::x", "ours at debug");
        tracing::debug!(target: "sqlx::query", "theirs at debug");
        tracing::info!(target: "sqlx::query", "theirs at info");
    };
    let output = capture(&LogArgs::default(), emit);
    assert!(!output.contains("ours at debug"), "{output}");
    assert!(!output.contains("theirs at debug"), "{output}");
    assert!(output.contains("theirs at info"), "{output}");

    let output = capture(&args(None, Some(LogLevel::Debug), LogFormat::Plain), emit);
    assert!(output.contains("ours at debug"), "{output}");
    assert!(!output.contains("theirs at debug"), "{output}");

    let output = capture(
        &args(Some("sqlx=debug"), Some(LogLevel::Error), LogFormat::Plain),
        emit,
    );
    assert!(!output.contains("ours at debug"), "{output}");
    assert!(output.contains("theirs at debug"), "{output}");
}

#[test]
fn initialising_twice_is_harmless() {
    init_for_tests();
    init_for_tests();
    init("scalelite-api", &LogArgs::default());
    init("scalelite-api", &LogArgs::default());
    tracing::info!("still logging");
}
