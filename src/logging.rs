//! Logging for both long-running modes: the daemon logs to stderr and a daily rolling file;
//! the dashboard only to its file, never to the terminal it draws on. One filter syntax
//! (`PRISM_LOG`, tracing's EnvFilter) for both.

use std::path::Path;

use anyhow::Context as _;

/// Sets up logging to a daily rolling file in `log_dir` (kept 14 days), and to stderr when
/// `to_stderr`. The returned guard must live as long as the process logs.
pub fn init(
    filter: &str,
    log_dir: &Path,
    file_prefix: &str,
    to_stderr: bool,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, fmt};

    std::fs::create_dir_all(log_dir)
        .with_context(|| format!("cannot create {}", log_dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(file_prefix)
        .filename_suffix("log")
        .max_log_files(14)
        .build(log_dir)
        .context("cannot open the log file")?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    // The SDK is chatty at info; its warnings still come through.
    let quiet = "aws_config=warn,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,\
                 aws_sdk_ec2=warn,aws_sdk_ssm=warn,aws_sdk_sts=warn,hyper=warn,sqlx=warn";
    check_filter(filter)?;
    let filter = EnvFilter::try_new(format!("{quiet},{filter}")).with_context(|| {
        format!("log filter {filter:?} is not valid; write e.g. \"info\" or \"prism=debug\"")
    })?;
    let file_layer = fmt::layer().with_ansi(false).with_writer(file_writer);
    // Colour only for a person at a terminal, not in a file the stream is redirected to.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let stderr_layer =
        to_stderr.then(|| fmt::layer().with_ansi(colour).with_writer(std::io::stderr));
    tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .ok();
    Ok(guard)
}

/// Refuses a filter whose bare words are not levels. tracing reads a bare word such as
/// `nonsense` as "everything from the module `nonsense`", which silently turns every other log
/// line off, errors included.
pub fn check_filter(filter: &str) -> anyhow::Result<()> {
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let bare = !directive.contains('=') && !directive.contains('[');
        if bare
            && directive
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_err()
        {
            anyhow::bail!(
                "log filter {filter:?}: '{directive}' is not a level; write a level (error, warn, \
                 info, debug, trace, off) or module=level, e.g. \"info\" or \"info,prism=debug\""
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `log = "nonsense"` was accepted and the daemon then logged nothing at all.
    #[test]
    fn bare_words_that_are_not_levels_are_refused() {
        for good in [
            "info",
            "warn,prism=debug",
            "prism=trace",
            "off",
            " info , sqlx=warn ",
        ] {
            assert!(check_filter(good).is_ok(), "{good}");
        }
        for bad in ["nonsense", "info,loud", "garbage((("] {
            let error = check_filter(bad).expect_err(bad).to_string();
            assert!(error.contains("is not a level"), "{error}");
        }
    }
}
