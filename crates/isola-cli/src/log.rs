//! Logging for runc callers: `--log FILE --log-format json` writes one JSON object per line
//! (`{"level":"error","msg":"...","time":"..."}`), which containerd's shim parses to report a
//! failed command. Without `--log`, nothing is logged unless `--debug` (stderr stays the
//! workload's and the one-line error's).

use std::fmt;
use std::fs::OpenOptions;
use std::path::Path;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

struct RuncJson;

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl<S, N> FormatEvent<S, N> for RuncJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut msg = Message::default();
        event.record(&mut msg);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let line = serde_json::json!({
            "level": level,
            "msg": msg.0.trim(),
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        });
        writeln!(w, "{line}")
    }
}

/// Installs the subscriber; returns whether log lines go to a file.
pub fn init(file: Option<&Path>, format: LogFormat, debug: bool) -> anyhow::Result<bool> {
    let level = if debug { Level::DEBUG } else { Level::INFO };
    let builder = tracing_subscriber::fmt().with_max_level(level).with_ansi(false);
    match file {
        Some(path) => {
            let f = OpenOptions::new().create(true).append(true).open(path)
                .map_err(|e| anyhow::anyhow!("--log {}: {e}", path.display()))?;
            match format {
                LogFormat::Json => builder.event_format(RuncJson).with_writer(std::sync::Mutex::new(f)).init(),
                LogFormat::Text => builder.with_writer(std::sync::Mutex::new(f)).init(),
            }
            Ok(true)
        }
        None if debug => {
            match format {
                LogFormat::Json => builder.event_format(RuncJson).with_writer(std::io::stderr).init(),
                LogFormat::Text => builder.with_writer(std::io::stderr).init(),
            }
            Ok(false)
        }
        None => Ok(false),
    }
}
