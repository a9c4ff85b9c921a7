//! `prism templates list|validate|info`.

use clap::Subcommand;

use super::output::say;
use super::output::{self, Format, json, print_table, table};
use super::{Failure, report};
use crate::client::DaemonClient;

#[derive(Debug, Subcommand)]
pub enum TemplatesCommand {
    /// List the templates that can be launched.
    List,
    /// Validate every template file and show the problems found.
    Validate,
    /// Show one template after inheritance (by name or slug).
    Info { name: String },
}

pub async fn run(
    client: &DaemonClient,
    format: Format,
    command: TemplatesCommand,
) -> Result<(), Failure> {
    match command {
        TemplatesCommand::List => {
            let templates = client.templates().await.map_err(|e| report(&e))?;
            if format == Format::Json {
                json(&templates);
                return Ok(());
            }
            let mut t = table(&["name", "slug", "size", "ports", "source", "description"]);
            for template in &templates {
                let ports: Vec<String> = template.ports.iter().map(u16::to_string).collect();
                t.add_row(vec![
                    template.name.clone(),
                    template.slug.clone(),
                    template.default_size.clone(),
                    ports.join(","),
                    template.source.clone(),
                    template.description.clone(),
                ]);
            }
            print_table(&t);
        }
        TemplatesCommand::Validate => {
            let summary = client.validate_templates().await.map_err(|e| report(&e))?;
            if format == Format::Json {
                json(&summary);
            } else {
                let mut t = table(&["template", "status", "checks", "file"]);
                for result in &summary.validation_results {
                    t.add_row(vec![
                        result.template.clone(),
                        result.status.clone(),
                        format!("{}/{}", result.checks_passed, result.checks_total),
                        result.file.clone(),
                    ]);
                }
                print_table(&t);
                for result in summary
                    .validation_results
                    .iter()
                    .filter(|r| !r.issues.is_empty())
                {
                    say!("\n{}:", result.template);
                    for issue in &result.issues {
                        say!("  - {issue}");
                    }
                }
                say!(
                    "\n{} of {} valid",
                    summary.validated,
                    summary.total_templates
                );
            }
            if summary.validated < summary.total_templates {
                return Err(Failure::Api);
            }
        }
        TemplatesCommand::Info { name } => {
            let info = client.template_info(&name).await.map_err(|e| report(&e))?;
            if format == Format::Json {
                json(&info);
                return Ok(());
            }
            let sizes: Vec<String> = info.sizes.iter().map(|(s, t)| format!("{s}={t}")).collect();
            output::fields(&[
                ("name", info.name.clone()),
                ("slug", info.slug.clone()),
                ("description", info.description.clone()),
                ("inherits", info.inherits.join(", ")),
                ("chain", info.dependency_chain.join("; ")),
                (
                    "os",
                    format!(
                        "{} (login: {})",
                        output::or_dash(info.os.clone()),
                        output::or_dash(info.ssh_user.clone())
                    ),
                ),
                ("package manager", info.package_manager.clone()),
                ("packages", info.resolved_packages.join(", ")),
                ("users", info.resolved_users.join(", ")),
                (
                    "ports",
                    info.resolved_ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                (
                    "services",
                    info.services
                        .iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                (
                    "default size",
                    format!(
                        "{} ({} {})",
                        info.default_size, info.family, info.architecture
                    ),
                ),
                ("sizes", sizes.join(" ")),
                (
                    "root volume",
                    format!("{} GB {}", info.root_volume_gb, info.root_volume_type),
                ),
                (
                    "hibernation",
                    if info.hibernation {
                        "requested".into()
                    } else {
                        "no".into()
                    },
                ),
                ("status", info.validation_status.clone()),
                (
                    "troubleshooting",
                    output::or_dash(info.troubleshooting_guide.clone()),
                ),
                ("source", format!("{} ({})", info.source, info.file)),
            ]);
        }
    }
    Ok(())
}
