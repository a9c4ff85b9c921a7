//! The command line: `prism <group> <verb>`, and `prism daemon` to run the service.
//!
//! Every command except `prism daemon` itself and its `install` and `uninstall` talks to the
//! daemon through [`crate::client`]. Output is a table by default and JSON with `--output
//! json`; failures print the message and what to do about it, and exit non-zero (1 for an
//! error the daemon reported or a refusal, 2 for a usage error such as a malformed daemon URL,
//! 3 when the daemon is unreachable).

mod daemon;
mod output;
mod service;
mod templates;
mod workspace;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::client::{ClientError, DaemonClient};
pub use output::Format;
pub use service::Manager;

/// Cloud research workstations on AWS without surprise bills.
#[derive(Debug, Parser)]
#[command(name = "prism", version, about, propagate_version = true)]
pub struct Cli {
    /// The daemon's URL (default: the running daemon's recorded address, or
    /// http://127.0.0.1:8947).
    #[arg(long, global = true, env = "PRISM_DAEMON_URL")]
    pub daemon_url: Option<String>,

    /// Output format.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon, or manage the running one.
    Daemon(DaemonArgs),
    /// Launch and manage workspaces.
    #[command(visible_alias = "ws")]
    Workspace {
        #[command(subcommand)]
        command: workspace::WorkspaceCommand,
    },
    /// Browse and validate templates.
    #[command(visible_alias = "template")]
    Templates {
        #[command(subcommand)]
        command: templates::TemplatesCommand,
    },
    /// Open the terminal dashboard.
    Tui(TuiArgs),
}

#[derive(Debug, Args)]
pub struct TuiArgs {
    /// Seconds between refreshes from the daemon (2-3600; default 30, or `refresh_secs` in
    /// tui.toml).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(2..=3600))]
    pub refresh: Option<u64>,
    /// Look but never change anything: every action that would touch a workspace is disabled.
    #[arg(long)]
    pub readonly: bool,
    /// The bundled keymap to start from: default or vim (your keymap.toml still applies).
    #[arg(long, value_name = "NAME", value_parser = ["default", "vim"])]
    pub keymap: Option<String>,
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    #[command(subcommand)]
    pub command: Option<DaemonCommand>,
    /// Address to listen on, e.g. 127.0.0.1:8947 or localhost:8947 (overrides `listen` in the
    /// config); it must be a loopback address.
    #[arg(long, value_parser = listen_address)]
    pub listen: Option<SocketAddr>,
}

fn listen_address(text: &str) -> Result<SocketAddr, String> {
    crate::model::address::parse_listen(text).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Run the daemon in the foreground (the default).
    Run,
    /// Show the running daemon's health.
    Status,
    /// Ask the running daemon to shut down gracefully, and wait until its process has exited.
    Stop {
        /// Seconds to wait for the process to exit before giving up (with exit status 1).
        #[arg(long, default_value_t = 35, value_parser = clap::value_parser!(u64).range(1..=3600))]
        timeout: u64,
    },
    /// Print the bearer token that TCP clients must send, for scripts:
    /// curl -H "Authorization: Bearer $(prism daemon token)" "$(prism daemon url)/api/v1/..."
    Token,
    /// Replace the token with a new one; clients read it from the token file again.
    RotateToken,
    /// Print the running daemon's TCP URL, for scripts (on a shared machine it may not be
    /// 8947): curl -H "Authorization: Bearer $(prism daemon token)" "$(prism daemon url)/api/v1/..."
    Url,
    /// Run the daemon as a service that starts at login and again after a crash.
    ///
    /// Writes a systemd user unit (Linux) or a launchd agent (macOS), then enables and starts
    /// it with systemctl or launchctl (restarting it if the file changed); without that tool,
    /// prints the commands to run instead. The service keeps PRISM_CONFIG_DIR, PRISM_DATA_DIR, AWS_PROFILE,
    /// AWS_REGION, AWS_CONFIG_FILE and AWS_ENDPOINT_URL* from this shell (never credentials),
    /// and `--listen` when given before `install`. PRISM_SERVICE_DIR writes the file elsewhere.
    Install {
        /// Only write the file, and print the commands that start the service.
        #[arg(long)]
        no_start: bool,
        /// Replace an existing service file that differs from the new one.
        #[arg(long)]
        force: bool,
        /// The service manager to write for (default: systemd on Linux, launchd on macOS).
        #[arg(long, value_enum)]
        manager: Option<Manager>,
    },
    /// Stop the service `install` set up, keep it from starting again, and remove its file.
    Uninstall {
        /// The service manager it was installed for (default: this system's).
        #[arg(long, value_enum)]
        manager: Option<Manager>,
    },
}

/// Which kind of failure, for the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Failure {
    Api,
    Unreachable,
    Usage,
}

impl Failure {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Failure::Api => ExitCode::from(1),
            Failure::Usage => ExitCode::from(2),
            Failure::Unreachable => ExitCode::from(3),
        }
    }
}

/// Prints a client error with its remediation and picks the exit code.
pub fn report(error: &ClientError) -> Failure {
    eprintln!("error: {error}");
    if let Some(details) = error.details() {
        eprintln!("  details: {details}");
    }
    let remediation = error.remediation();
    if !remediation.is_empty() {
        eprintln!("  hint: {remediation}");
    }
    match error {
        ClientError::Api { .. } => Failure::Api,
        ClientError::BadUrl { .. } => Failure::Usage,
        ClientError::Unreachable { .. } | ClientError::Protocol { .. } => Failure::Unreachable,
    }
}

/// Runs a client command (anything but running the daemon itself), or installs or removes
/// the service, which needs no daemon.
pub async fn run_client(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Daemon(DaemonArgs {
            command:
                Some(DaemonCommand::Install {
                    no_start,
                    force,
                    manager,
                }),
            listen,
        }) => service::install(
            cli.output,
            service::InstallOptions {
                no_start,
                force,
                manager,
                listen,
            },
        ),
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::Uninstall { manager }),
            ..
        }) => service::uninstall(cli.output, manager),
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::Token),
            ..
        }) => daemon::print_token(),
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::Url),
            ..
        }) => daemon::print_url(),
        command => with_client(cli.daemon_url.as_deref(), cli.output, command).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.exit_code(),
    }
}

async fn with_client(
    daemon_url: Option<&str>,
    output: Format,
    command: Command,
) -> Result<(), Failure> {
    let client = DaemonClient::discover(daemon_url).map_err(|error| report(&error))?;
    match command {
        Command::Workspace { command } => workspace::run(&client, output, command).await,
        Command::Templates { command } => templates::run(&client, output, command).await,
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::Status),
            ..
        }) => output::daemon_status(&client, output).await,
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::Stop { timeout }),
            ..
        }) => daemon::stop(&client, output, std::time::Duration::from_secs(timeout)).await,
        Command::Daemon(DaemonArgs {
            command: Some(DaemonCommand::RotateToken),
            ..
        }) => daemon::rotate_token(&client, output).await,
        Command::Daemon(_) | Command::Tui(_) => Err(Failure::Usage),
    }
}
