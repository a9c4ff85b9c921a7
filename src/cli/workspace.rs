//! `prism workspace …`: launch, list and drive workspaces.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::output::say;
use super::output::{Format, fields, json, or_dash, print_table, stamp, table};
use super::{Failure, report};
use crate::client::DaemonClient;
use crate::model::api::{LaunchRequest, StorageRequest, Workspace};
use crate::model::workspace::WorkspaceState;

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
        /// Wait until it is running (or the launch fails).
        #[arg(long)]
        wait: bool,
    },
    /// Stop a running workspace (storage is kept and still billed).
    Stop { name: String },
    /// Start a stopped workspace.
    Start { name: String },
    /// Hibernate a running workspace (memory is kept).
    Hibernate { name: String },
    /// Resume a hibernated workspace.
    Resume { name: String },
    /// Terminate a workspace and destroy its data.
    Terminate {
        name: String,
        /// Skip the confirmation prompt.
        #[arg(long, short)]
        yes: bool,
        /// Snapshot the workspace's volumes first.
        #[arg(long)]
        backup: bool,
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
    Ok(all
        .into_iter()
        .rfind(|w| w.name == name || w.id.as_deref() == Some(name)))
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
            let workspaces = client.workspaces().await.map_err(|e| report(&e))?;
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
            wait,
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
                let workspace = wait_for_running(client, &name, format == Format::Table).await?;
                if format == Format::Json {
                    json(&workspace);
                }
            }
        }
        C::Stop { name } => {
            let answer = client.stop(&name).await.map_err(|e| report(&e))?;
            transition(format, &answer, &answer.message);
        }
        C::Start { name } => {
            let answer = client.start(&name).await.map_err(|e| report(&e))?;
            transition(format, &answer, &answer.message);
        }
        C::Resume { name } => {
            let answer = client.resume(&name).await.map_err(|e| report(&e))?;
            transition(format, &answer, &answer.message);
        }
        C::Hibernate { name } => {
            let answer = client.hibernate(&name).await.map_err(|e| report(&e))?;
            match format {
                Format::Json => json(&answer),
                Format::Table => say!(
                    "{}: {} → {} (saves {})",
                    answer.name,
                    answer.previous_state,
                    answer.new_state,
                    answer.estimated_savings
                ),
            }
        }
        C::Terminate { name, yes, backup } => {
            if !yes {
                confirm_terminate(&name)?;
            }
            let answer = client
                .terminate(&name, backup)
                .await
                .map_err(|e| report(&e))?;
            match format {
                Format::Json => json(&answer),
                Format::Table => say!("{}: {}", answer.name, answer.message),
            }
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

/// Polls until the workspace runs, fails, or ten minutes pass.
async fn wait_for_running(
    client: &DaemonClient,
    name: &str,
    chatty: bool,
) -> Result<Workspace, Failure> {
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(workspace) = find(client, name).await? {
            let label = state_label(&workspace);
            if chatty && label != last {
                say!("{name}: {label}");
                last = label;
            }
            match workspace.state {
                WorkspaceState::Running => return Ok(workspace),
                WorkspaceState::Failed => {
                    eprintln!(
                        "error: launch failed: {}",
                        or_dash(workspace.launch_error.clone())
                    );
                    return Err(Failure::Api);
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("error: '{name}' is not running after 10 minutes; check 'prism workspace list'");
    Err(Failure::Api)
}
