//! A template file exactly as written: every field optional so that a child can leave a field
//! to its parents, and every unknown key an error so that a typo never passes silently.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::size::{Arch, Family, Size};

/// One template file, parsed strictly.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// The display name, unique across all templates ("Rocky Linux 9 Base").
    pub name: String,
    /// A URL- and shell-friendly name; derived from the name when absent.
    pub slug: Option<String>,
    pub description: Option<String>,
    /// Parent templates by name or slug, applied in this order.
    #[serde(default)]
    pub inherits: Vec<String>,
    pub base: Option<BaseSpec>,
    /// The tool researchers use for this template's software (conda, pip, dnf, apt).
    pub package_manager: Option<PackageManager>,
    /// Packages by the tool that installs them.
    #[serde(default)]
    pub packages: BTreeMap<PackageSource, Vec<String>>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// Extra inbound ports beyond SSH and the services' own.
    #[serde(default)]
    pub ports: Vec<u16>,
    pub instance: Option<InstanceSpec>,
    pub idle: Option<IdleSpec>,
    /// Shell commands run as root after packages, users and services are in place.
    #[serde(default)]
    pub setup: Vec<String>,
    /// Environment variables for every login shell.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// A hint shown to researchers when something in this environment misbehaves.
    pub troubleshooting: Option<String>,
}

/// The operating system image a template starts from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BaseSpec {
    pub os: Option<OsFamily>,
    /// The login user the image creates (`ec2-user`, `rocky`, `ubuntu`).
    pub ssh_user: Option<String>,
    pub image: Option<ImageSpec>,
}

/// How to find the image in a region for an architecture. Exactly one of `ssm` or `name`.
///
/// `{arch}` in either string is replaced by the architecture as the image's publisher spells
/// it: `arch_names` maps Prism's `x86_64`/`arm64` to that spelling (Ubuntu says `amd64`, Rocky
/// says `aarch64`); without an entry the EC2 name is used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// An SSM public parameter holding the image id.
    pub ssm: Option<String>,
    /// A DescribeImages name filter; the newest match wins.
    pub name: Option<String>,
    /// Image owners for the name filter (account ids or `amazon`).
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub arch_names: BTreeMap<Arch, String>,
}

impl ImageSpec {
    /// The lookup for one architecture, with `{arch}` filled in.
    pub fn for_arch(&self, arch: Arch) -> ImageLookup {
        let spelled = self
            .arch_names
            .get(&arch)
            .map_or(arch.as_str(), String::as_str);
        match (&self.ssm, &self.name) {
            (Some(parameter), _) => ImageLookup::Ssm(parameter.replace("{arch}", spelled)),
            (None, Some(name)) => ImageLookup::Filter {
                owners: self.owners.clone(),
                name: name.replace("{arch}", spelled),
                arch,
            },
            (None, None) => ImageLookup::Missing,
        }
    }
}

/// A concrete image lookup for the AWS layer to run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageLookup {
    Ssm(String),
    Filter {
        owners: Vec<String>,
        name: String,
        arch: Arch,
    },
    Missing,
}

/// Operating system families Prism knows how to set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OsFamily {
    AmazonLinux,
    Rocky,
    Ubuntu,
}

impl OsFamily {
    /// The name templates use: `amazon-linux`, `rocky`, `ubuntu`.
    pub fn as_str(self) -> &'static str {
        match self {
            OsFamily::AmazonLinux => "amazon-linux",
            OsFamily::Rocky => "rocky",
            OsFamily::Ubuntu => "ubuntu",
        }
    }

    /// The system package tool of this OS.
    pub fn system_manager(self) -> PackageManager {
        match self {
            OsFamily::AmazonLinux | OsFamily::Rocky => PackageManager::Dnf,
            OsFamily::Ubuntu => PackageManager::Apt,
        }
    }

    /// The group that grants sudo on this OS.
    pub fn admin_group(self) -> &'static str {
        match self {
            OsFamily::AmazonLinux | OsFamily::Rocky => "wheel",
            OsFamily::Ubuntu => "sudo",
        }
    }
}

/// Package tools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    Dnf,
    Apt,
    Conda,
    Pip,
}

impl fmt::Display for PackageManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PackageManager::Dnf => "dnf",
            PackageManager::Apt => "apt",
            PackageManager::Conda => "conda",
            PackageManager::Pip => "pip",
        })
    }
}

/// Where a package comes from; installed in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageSource {
    /// The OS's own tool (dnf or apt).
    System,
    Conda,
    Pip,
}

/// A login account created on the workspace.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    /// Whether the account may use sudo.
    #[serde(default)]
    pub sudo: bool,
    #[serde(default)]
    pub shell: Option<String>,
}

/// A long-running service the workspace offers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// `jupyter` and `rstudio` are set up by Prism; any other name needs `command`.
    pub name: String,
    pub port: Option<u16>,
    /// The account that runs the service; the template's first user when absent.
    pub user: Option<String>,
    /// How researchers authenticate; a secret is generated for each workspace.
    #[serde(default)]
    pub auth: ServiceAuth,
    /// The command for a custom service (run by systemd).
    pub command: Option<String>,
}

/// A service's login scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceAuth {
    #[default]
    None,
    Token,
    Password,
}

/// Instance defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    pub family: Option<Family>,
    pub architecture: Option<Arch>,
    pub default_size: Option<Size>,
    /// Per-size overrides of the instance type table.
    #[serde(default)]
    pub sizes: BTreeMap<Size, String>,
    pub root_volume_gb: Option<u32>,
    pub root_volume_type: Option<String>,
    /// Ask for hibernation where the instance type supports it.
    pub hibernation: Option<bool>,
}

/// Idle-detection defaults for workspaces of this template.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdleSpec {
    pub profile: Option<String>,
    pub idle_minutes: Option<u32>,
    pub action: Option<IdleAction>,
}

/// What to do with an idle workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IdleAction {
    Hibernate,
    Stop,
    Notify,
}

/// Parses one template file. Unknown keys, wrong types and missing names are errors.
pub fn parse(text: &str) -> Result<TemplateSpec, String> {
    let spec: TemplateSpec = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if spec.name.trim().is_empty() {
        return Err("name: must not be empty".to_string());
    }
    Ok(spec)
}

/// A slug made from a display name: lowercase ASCII letters and digits, runs of anything else
/// turned into one hyphen. "Rocky Linux 9 + Conda Stack" becomes `rocky-linux-9-conda-stack`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_a_location() {
        let err = parse("name: X\npackges:\n  conda: [numpy]\n").expect_err("typo must fail");
        assert!(err.contains("packges"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_nested_keys_are_errors() {
        let err = parse("name: X\ninstance:\n  hibernate: true\n").expect_err("nested typo");
        assert!(err.contains("hibernate"), "{err}");
    }

    #[test]
    fn empty_names_are_errors() {
        assert!(parse("name: '  '\n").is_err());
        assert!(parse("description: no name\n").is_err());
    }

    #[test]
    fn slugs_are_url_friendly() {
        assert_eq!(
            slugify("Rocky Linux 9 + Conda Stack"),
            "rocky-linux-9-conda-stack"
        );
        assert_eq!(
            slugify("Python Machine Learning (Simplified)"),
            "python-machine-learning-simplified"
        );
        assert_eq!(slugify("  --R--  "), "r");
    }

    #[test]
    fn image_lookup_fills_in_the_publishers_arch_name() {
        let spec = ImageSpec {
            name: Some("ubuntu-noble-24.04-{arch}-server-*".into()),
            owners: vec!["099720109477".into()],
            arch_names: [(Arch::X86_64, "amd64".to_string())].into(),
            ..ImageSpec::default()
        };
        assert_eq!(
            spec.for_arch(Arch::X86_64),
            ImageLookup::Filter {
                owners: vec!["099720109477".into()],
                name: "ubuntu-noble-24.04-amd64-server-*".into(),
                arch: Arch::X86_64
            }
        );
        match spec.for_arch(Arch::Arm64) {
            ImageLookup::Filter { name, .. } => {
                assert_eq!(name, "ubuntu-noble-24.04-arm64-server-*")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
