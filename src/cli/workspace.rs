//! `prism workspace …`: launch, list and drive workspaces.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};

use super::output::say;
use super::output::{Format, fields, json, or_dash, print_table, stamp, table};
use super::{Failure, report};
use crate::client::DaemonClient;
use crate::model::api::{LaunchRequest, StorageRequest, Workspace};
use crate::model::workspace::WorkspaceState;

/// `--wait` and its bound, shared by every command that changes a workspace's state.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// Wait until the workspace reaches the new state (or it becomes clear it will not).
    #[arg(long)]
    wait: bool,
    /// Seconds `--wait` waits before giving up with exit status 1.
    #[arg(long, default_value_t = 600, requires = "wait",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// List workspaces (those terminated in the last hour included).
    List,
    /// Show one workspace in full.
    Show { name: String },
    /// Launch a workspace from a template.
    Launch {
        /// A DNS-safe name: lowercase letters, digits and hyphens.
        name: String,
        /// Template name or slug.
        #[arg(long, short)]
        template: String,
        /// XS, S, M, L, XL, GPU-S, GPU-M, GPU-L or GPU-XL (default: the template's).
        #[arg(long, short)]
        size: Option<String>,
        /// An explicit EC2 instance type instead of a size.
        #[arg(long)]
        instance_type: Option<String>,
        /// Use spot capacity.
        #[arg(long)]
        spot: bool,
        /// AWS region (default: the daemon's).
        #[arg(long)]
        region: Option<String>,
        /// Root volume size in GB.
        #[arg(long)]
        volume_size: Option<u32>,
        /// Root volume type: gp3 or gp2.
        #[arg(long)]
        volume_type: Option<String>,
        /// Project to charge, kept as the Project tag.
        #[arg(long)]
        project: Option<String>,
        /// Budget (grant) to charge, kept as the Budget tag.
        #[arg(long)]
        budget: Option<String>,
        /// Hours until the workspace's time-to-live deadline.
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=8784))]
        ttl: Option<i64>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Stop a running workspace (storage is kept and still billed).
    Stop {
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Start a stopped workspace.
    Start {
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Hibernate a running workspace (memory is kept).
    Hibernate {
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Resume a hibernated workspace.
    Resume {
        name: String,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Terminate a workspace and destroy its data.
    Terminate {
        name: String,
        /// Skip the confirmation prompt.
        #[arg(long, short)]
        yes: bool,
        /// Snapshot the workspace's volumes first.
        #[arg(long)]
        backup: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Print how to connect: SSH and service tunnels.
    Connect { name: String },
    /// Extend a workspace's time-to-live.
    Extend {
        name: String,
        /// Hours to add (default 4).
        #[arg(long, value_parser = clap::value_parser!(i64).range(1..=8784))]
        hours: Option<i64>,
    },
    /// Show hibernation support and savings.
    HibernationStatus { name: String },
}

fn money(value: Option<crate::model::money::Money>) -> String {
    value
        .map(|m| m.display_usd(4))
        .unwrap_or_else(|| "-".into())
}

/// Spend with cents, or with four decimals while it is still under a dollar so that it
/// visibly moves.
fn spend(amount: crate::model::money::Money) -> String {
    if amount.micros().abs() < 1_000_000 {
        amount.display_usd(4)
    } else {
        amount.display_usd(2)
    }
}

fn state_label(workspace: &Workspace) -> String {
    match (workspace.state, workspace.launch_progress) {
        (WorkspaceState::Launching, Some(progress)) => format!("launching {progress}%"),
        (state, _) => state.to_string(),
    }
}

fn print_list(workspaces: &[Workspace]) {
    if workspaces.is_empty() {
        say!("No workspaces. Launch one with 'prism workspace launch NAME --template TEMPLATE'.");
        return;
    }
    // The instance id tells apart a terminated workspace and the new one that reuses its name.
    let mut t = table(&[
        "name",
        "id",
        "state",
        "type",
        "region",
        "public ip",
        "$/h now",
        "spend",
        "template",
    ]);
    for w in workspaces {
        t.add_row(vec![
            w.name.clone(),
            or_dash(w.id.clone()),
            state_label(w),
            w.instance_type.clone(),
            w.region.clone(),
            or_dash(w.public_ip.clone()),
            money(w.current_hourly_cost),
            w.current_spend.map_or_else(|| "-".to_string(), spend),
            w.template.clone(),
        ]);
    }
    print_table(&t);
}

fn print_one(w: &Workspace) {
    fields(&[
        ("name", w.name.clone()),
        ("state", state_label(w)),
        ("instance", or_dash(w.id.clone())),
        ("template", w.template.clone()),
        (
            "type",
            format!("{} ({})", w.instance_type, or_dash(w.size.clone())),
        ),
        ("region", w.region.clone()),
        ("public ip", or_dash(w.public_ip.clone())),
        ("private ip", or_dash(w.private_ip.clone())),
        (
            "instance rate",
            format!("{}/hour while running", money(w.hourly_rate)),
        ),
        ("spend so far", money(w.current_spend)),
        ("cost now", format!("{}/hour", money(w.current_hourly_cost))),
        ("price source", or_dash(w.price_source.clone())),
        (
            "hibernation",
            if w.hibernation_capable {
                "configured".into()
            } else {
                "not configured".into()
            },
        ),
        ("spot", w.spot.to_string()),
        ("project", or_dash(w.project.clone())),
        ("budget", or_dash(w.budget.clone())),
        ("ttl", or_dash(w.ttl.map(stamp))),
        ("launched", or_dash(w.launch_time.map(stamp))),
        ("error", or_dash(w.launch_error.clone())),
    ]);
}

async fn find(client: &DaemonClient, name: &str) -> Result<Option<Workspace>, Failure> {
    let all = client.workspaces().await.map_err(|e| report(&e))?;
    Ok(pick(all, name))
}

/// The workspace `key` means, as the daemon resolves it: the one with that instance id, else
/// the live one of that name, else the latest ended one.
fn pick(all: Vec<Workspace>, key: &str) -> Option<Workspace> {
    if let Some(by_id) = all.iter().find(|w| w.id.as_deref() == Some(key)) {
        return Some(by_id.clone());
    }
    let mut named: Vec<Workspace> = all.into_iter().filter(|w| w.name == key).collect();
    match named.iter().position(|w| !w.state.is_final()) {
        Some(live) => Some(named.swap_remove(live)),
        None => named.pop(),
    }
}

/// Asks the user to type the workspace's name; refuses when there is no terminal to ask on.
fn confirm_terminate(name: &str) -> Result<(), Failure> {
    if !std::io::stdin().is_terminal() {
        eprintln!("error: terminating '{name}' destroys its data; pass --yes to confirm");
        return Err(Failure::Usage);
    }
    eprint!("Terminating '{name}' destroys it and its data. Type the name to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if answer.trim() == name {
        Ok(())
    } else {
        eprintln!("Not confirmed; nothing was changed.");
        Err(Failure::Usage)
    }
}

pub async fn run(
    client: &DaemonClient,
    format: Format,
    command: WorkspaceCommand,
) -> Result<(), Failure> {
    use WorkspaceCommand as C;
    match command {
        C::List => {
            let (workspaces, stale) = client
                .workspaces_with_staleness()
                .await
                .map_err(|e| report(&e))?;
            // On stderr, so that scripts reading the table or JSON are not disturbed.
            match stale {
                Some(Some(age)) => eprintln!(
                    "note: this list is {age} s old: the daemon cannot refresh it from EC2 \
                     ('prism daemon status' says why)"
                ),
                Some(None) => eprintln!(
                    "note: the daemon has not heard from EC2 yet, so this list may be incomplete \
                     ('prism daemon status' says why)"
                ),
                None => {}
            }
            match format {
                Format::Json => json(&workspaces),
                Format::Table => print_list(&workspaces),
            }
        }
        C::Show { name } => match find(client, &name).await? {
            Some(w) if format == Format::Json => json(&w),
            Some(w) => print_one(&w),
            None => {
                eprintln!(
                    "error: Workspace '{name}' not found\n  hint: Use 'prism workspace list' to see available workspaces"
                );
                return Err(Failure::Api);
            }
        },
        C::Launch {
            name,
            template,
            size,
            instance_type,
            spot,
            region,
            volume_size,
            volume_type,
            project,
            budget,
            ttl,
            wait: WaitArgs { wait, timeout },
        } => {
            let storage =
                (volume_size.is_some() || volume_type.is_some()).then_some(StorageRequest {
                    ebs_volume_size: volume_size,
                    ebs_volume_type: volume_type,
                });
            let request = LaunchRequest {
                name: name.clone(),
                template,
                size,
                instance_type,
                spot: spot.then_some(true),
                region,
                storage,
                project,
                budget,
                ttl_hours: ttl,
            };
            let answer = client.launch(&request).await.map_err(|e| report(&e))?;
            if format == Format::Json && !wait {
                json(&answer);
                return Ok(());
            }
            if format == Format::Table {
                say!("{}", answer.message);
                say!("hourly rate: {}", money(answer.hourly_rate));
            }
            if wait {
                Waiter::new(&name, WorkspaceState::Running, timeout, format)
                    .run(client)
                    .await?;
            }
        }
        C::Stop { name, wait } => {
            let answer = client.stop(&name).await.map_err(|e| report(&e))?;
            if !(wait.wait && format == Format::Json) {
                transition(format, &answer, &answer.message);
            }
            wait_if_asked(client, &name, &wait, WorkspaceState::Stopped, format).await?;
        }
        C::Start { name, wait } => {
            let answer = client.start(&name).await.map_err(|e| report(&e))?;
            if !(wait.wait && format == Format::Json) {
                transition(format, &answer, &answer.message);
            }
            wait_if_asked(client, &name, &wait, WorkspaceState::Running, format).await?;
        }
        C::Resume { name, wait } => {
            let answer = client.resume(&name).await.map_err(|e| report(&e))?;
            if !(wait.wait && format == Format::Json) {
                transition(format, &answer, &answer.message);
            }
            wait_if_asked(client, &name, &wait, WorkspaceState::Running, format).await?;
        }
        C::Hibernate { name, wait } => {
            let answer = client.hibernate(&name).await.map_err(|e| report(&e))?;
            match format {
                Format::Json if wait.wait => {}
                Format::Json => json(&answer),
                Format::Table => say!(
                    "{}: {} → {} (saves {})",
                    answer.name,
                    answer.previous_state,
                    answer.new_state,
                    answer.estimated_savings
                ),
            }
            wait_if_asked(client, &name, &wait, WorkspaceState::Hibernated, format).await?;
        }
        C::Terminate {
            name,
            yes,
            backup,
            wait,
        } => {
            if !yes {
                confirm_terminate(&name)?;
            }
            let answer = client
                .terminate(&name, backup)
                .await
                .map_err(|e| report(&e))?;
            match format {
                Format::Json if wait.wait => {}
                Format::Json => json(&answer),
                Format::Table => say!("{}: {}", answer.name, answer.message),
            }
            wait_if_asked(client, &name, &wait, WorkspaceState::Terminated, format).await?;
        }
        C::Connect { name } => {
            let info = client.connect_info(&name).await.map_err(|e| report(&e))?;
            match format {
                Format::Json => json(&info),
                Format::Table => {
                    say!("{}", info.ssh.command);
                    for (service, connect) in &info.services {
                        say!("\n{service}: {}", connect.url);
                        say!("  tunnel:   {}", connect.local_forward);
                        if let Some(token) = &connect.token {
                            say!("  token:    {token}");
                        }
                        if let (Some(user), Some(password)) = (&connect.username, &connect.password)
                        {
                            say!("  login:    {user} / {password}");
                        }
                        if let Some(note) = &connect.note {
                            say!("  note:     {note}");
                        }
                    }
                    for note in &info.notes {
                        say!("\nnote: {note}");
                    }
                }
            }
        }
        C::Extend { name, hours } => {
            client.extend(&name, hours).await.map_err(|e| report(&e))?;
            let workspace = find(client, &name).await?;
            let ttl = workspace.and_then(|w| w.ttl);
            match format {
                Format::Json => json(&serde_json::json!({ "name": name, "ttl": ttl })),
                Format::Table => say!("{name}: time-to-live now ends {}", or_dash(ttl.map(stamp))),
            }
        }
        C::HibernationStatus { name } => {
            let status = client
                .hibernation_status(&name)
                .await
                .map_err(|e| report(&e))?;
            match format {
                Format::Json => json(&status),
                Format::Table => fields(&[
                    ("supported", status.hibernation_supported.to_string()),
                    ("state", status.current_state.to_string()),
                    (
                        "hibernated since",
                        or_dash(status.hibernation_time.map(stamp)),
                    ),
                    ("for", or_dash(status.hibernation_duration.clone())),
                    ("saved", status.estimated_savings.display_usd(4)),
                    ("note", or_dash(status.reason.clone())),
                ]),
            }
        }
    }
    Ok(())
}

fn transition(format: Format, answer: &crate::model::api::StateChange, message: &str) {
    match format {
        Format::Json => json(answer),
        Format::Table => say!(
            "{}: {} → {} ({message})",
            answer.name,
            answer.previous_state,
            answer.new_state
        ),
    }
}

async fn wait_if_asked(
    client: &DaemonClient,
    key: &str,
    wait: &WaitArgs,
    target: WorkspaceState,
    format: Format,
) -> Result<(), Failure> {
    if wait.wait {
        Waiter::new(key, target, wait.timeout, format)
            .run(client)
            .await?;
    }
    Ok(())
}

/// `--wait`: polls the daemon's list (which it keeps from EC2; polling it costs no AWS calls)
/// until the workspace reaches `target`, cannot any more, or `timeout` seconds pass. With
/// `-o json` the workspace as finally seen is the command's only output.
struct Waiter<'a> {
    key: &'a str,
    target: WorkspaceState,
    timeout: Duration,
    format: Format,
}

impl<'a> Waiter<'a> {
    fn new(key: &'a str, target: WorkspaceState, timeout: u64, format: Format) -> Waiter<'a> {
        Waiter {
            key,
            target,
            timeout: Duration::from_secs(timeout),
            format,
        }
    }

    async fn run(&self, client: &DaemonClient) -> Result<Workspace, Failure> {
        let started = Instant::now();
        let chatty = self.format == Format::Table;
        // Followed by instance id once known, so that a new workspace reusing the name while
        // this one ends is not mistaken for it.
        let mut instance: Option<String> = None;
        let mut last_label = String::new();
        let mut last_seen: Option<Workspace> = None;
        loop {
            let all = client.workspaces().await.map_err(|e| report(&e))?;
            let seen = match &instance {
                Some(id) => all
                    .into_iter()
                    .find(|w| w.id.as_deref() == Some(id.as_str())),
                None => pick(all, self.key),
            };
            match seen {
                Some(workspace) => {
                    instance = instance.or_else(|| workspace.id.clone());
                    let label = state_label(&workspace);
                    if chatty && label != last_label {
                        say!("{}: {label}", workspace.name);
                        last_label = label;
                    }
                    if workspace.state == self.target {
                        if self.format == Format::Json {
                            json(&workspace);
                        }
                        return Ok(workspace);
                    }
                    if workspace.state.is_final() {
                        let why = match (&workspace.launch_error, workspace.state) {
                            (Some(error), WorkspaceState::Failed) => {
                                format!("its launch failed: {error}")
                            }
                            _ => format!("it is {}", workspace.state),
                        };
                        eprintln!(
                            "error: '{}' will not become {}: {why}",
                            workspace.name, self.target
                        );
                        return Err(Failure::Api);
                    }
                    last_seen = Some(workspace);
                }
                // An ended workspace leaves the list an hour later; one that has gone while a
                // terminate was awaited has got there.
                None if self.target == WorkspaceState::Terminated
                    && let Some(workspace) = last_seen =>
                {
                    if self.format == Format::Json {
                        json(&workspace);
                    }
                    return Ok(workspace);
                }
                None => {}
            }
            if started.elapsed() >= self.timeout {
                let now = last_seen.as_ref().map_or_else(
                    || "it is not in the list".to_string(),
                    |w| format!("it is {}", state_label(w)),
                );
                eprintln!(
                    "error: '{}' is not {} after {} s ({now})",
                    self.key,
                    self.target,
                    self.timeout.as_secs()
                );
                eprintln!(
                    "  hint: the change may still finish; follow it with 'prism workspace list', \
                     or wait longer with --timeout SECONDS"
                );
                return Err(Failure::Api);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
