//! Printing results: tables for people, JSON for scripts.

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;

use super::{Failure, report};
use crate::client::DaemonClient;

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Writes one line to stdout. When the reader has gone away (`prism … | head -1`), the
/// command ends quietly instead of panicking the way `println!` does.
pub fn line(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(error) = out.write_fmt(text).and_then(|()| out.write_all(b"\n")) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write output: {error}");
        std::process::exit(1);
    }
}

/// `println!` that survives a closed pipe; see [`line`].
macro_rules! say {
    () => { $crate::cli::output::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::cli::output::line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// Prints any API value as pretty JSON.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => say!("{text}"),
        Err(error) => eprintln!("error: cannot print JSON: {error}"),
    }
}

/// A borderless table with a header row, like `kubectl get`.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(header.iter().map(|h| h.to_uppercase()));
    table
}

pub fn print_table(table: &Table) {
    // comfy-table pads every line with a leading space; trim it for tidy output.
    for line in table.to_string().lines() {
        say!(
            "{}",
            line.trim_end().strip_prefix(' ').unwrap_or(line.trim_end())
        );
    }
}

/// A key-value listing for one object.
pub fn fields(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in rows {
        say!("{key:<width$}  {value}");
    }
}

/// A UTC time to the second, as RFC 3339 (`2026-12-03T18:50:23Z`).
pub fn stamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn or_dash(value: Option<impl ToString>) -> String {
    value
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".to_string())
}

pub async fn daemon_status(client: &DaemonClient, format: Format) -> Result<(), Failure> {
    let status = client.status().await.map_err(|e| report(&e))?;
    match format {
        Format::Json => json(&status),
        Format::Table => fields(&[
            ("daemon", format!("{} ({})", status.status, client.url())),
            ("version", status.version.clone()),
            ("uptime", status.uptime.clone()),
            (
                "aws",
                match (&status.aws_account, &status.aws_error) {
                    (Some(account), _) => {
                        format!("{} (account {account})", status.aws_connectivity)
                    }
                    (_, Some(error)) => format!("{}: {error}", status.aws_connectivity),
                    _ => status.aws_connectivity.clone(),
                },
            ),
            ("socket", or_dash(status.socket.clone())),
            (
                "tcp",
                match (&status.tcp_address, &status.tcp_note) {
                    (address, Some(note)) => format!("{} ({note})", or_dash(address.clone())),
                    (address, None) => or_dash(address.clone()),
                },
            ),
            ("region", status.region.clone()),
            ("owner", status.owner.clone()),
            (
                "workspaces",
                format!(
                    "{} ({} running)",
                    status.total_instances, status.active_instances
                ),
            ),
            ("last refresh", or_dash(status.last_refresh.map(stamp))),
            (
                "data age",
                match (status.data_age_seconds, status.data_stale) {
                    (Some(age), false) => format!("{age} s"),
                    (Some(age), true) => format!("{age} s (stale)"),
                    (None, _) => "never refreshed (stale)".to_string(),
                },
            ),
            ("refresh error", or_dash(status.refresh_error.clone())),
        ]),
    }
    Ok(())
}
