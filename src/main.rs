//! The `prism` binary: parses the command line and dispatches. All logic lives in the library.

use std::process::ExitCode;

use clap::Parser as _;
use prism::cli::{Cli, Command, DaemonArgs, DaemonCommand, TuiArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Daemon(DaemonArgs {
            command: None | Some(DaemonCommand::Run),
            listen,
        }) => {
            let options = prism::daemon::DaemonOptions { listen };
            match runtime.block_on(prism::daemon::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Tui(TuiArgs {
            refresh,
            readonly,
            keymap,
        }) => {
            let options = prism::tui::TuiOptions {
                daemon_url: cli.daemon_url,
                refresh_secs: refresh,
                keymap,
                readonly,
            };
            match runtime.block_on(prism::tui::run(options)) {
                Ok(prism::tui::Ending::Quit) => ExitCode::SUCCESS,
                Ok(prism::tui::Ending::Signal(number)) => {
                    ExitCode::from(u8::try_from(128 + number).unwrap_or(1))
                }
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => runtime.block_on(prism::cli::run_client(cli)),
    }
}
