//! Checks on a resolved template, reported check by check.

use serde::Serialize;

use super::resolve::{ResolveError, Template};
use crate::model::pricing;
use crate::model::size::looks_like_instance_type;
use crate::model::userdata::{self, WorkspaceSetup};

/// Every check, in the order reported.
pub const CHECKS: [&str; 11] = [
    "syntax",
    "inheritance",
    "names",
    "base image",
    "packages",
    "users",
    "ports",
    "services",
    "instance",
    "environment",
    "user data",
];

/// A template's standing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationStatus {
    Valid,
    Invalid,
}

/// The result of validating one template or file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TemplateReport {
    /// The template's name, or the file's path when it could not be read.
    pub template: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    pub file: String,
    pub status: ValidationStatus,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub issues: Vec<String>,
    #[serde(skip)]
    failed: Vec<&'static str>,
    /// Other keys a researcher may look this report up by, for a file that did not parse:
    /// its file name without extension, and the `name` it seems to declare.
    #[serde(skip)]
    aliases: Vec<String>,
}

impl TemplateReport {
    fn new(template: &str, slug: Option<String>, file: &str) -> TemplateReport {
        TemplateReport {
            template: template.to_string(),
            slug,
            file: file.to_string(),
            status: ValidationStatus::Valid,
            checks_passed: CHECKS.len(),
            checks_total: CHECKS.len(),
            issues: Vec::new(),
            failed: Vec::new(),
            aliases: Vec::new(),
        }
    }

    /// Whether `key` (a name, slug or alias; names in any case) refers to this report.
    pub fn answers_to(&self, key: &str) -> bool {
        self.template == key
            || self.slug.as_deref() == Some(key)
            || self.template.eq_ignore_ascii_case(key)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(key))
    }

    /// Records a failed check. A check counts once however many issues it has.
    pub fn add_issue(&mut self, check: &'static str, issue: String) {
        self.issues.push(format!("{check}: {issue}"));
        self.status = ValidationStatus::Invalid;
        if !self.failed.contains(&check) {
            self.failed.push(check);
            self.checks_passed = self.checks_passed.saturating_sub(1);
        }
    }

    pub(super) fn unparsable(file: &str, message: &str, aliases: Vec<String>) -> TemplateReport {
        let mut report = TemplateReport::new(file, None, file);
        report.add_issue("syntax", message.to_string());
        report.checks_passed = 0;
        report.aliases = aliases;
        report
    }

    pub(super) fn unresolvable(
        name: &str,
        slug: &str,
        file: &str,
        error: &ResolveError,
    ) -> TemplateReport {
        let mut report = TemplateReport::new(name, Some(slug.to_string()), file);
        report.add_issue("inheritance", error.to_string());
        report
    }
}

fn is_posix_user(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Package specs as conda, pip, dnf and apt write them: `numpy`, `r-base=4.3`, `torch==2.1`,
/// `jupyterlab[all]`, `python3-devel`. Nothing a shell would treat specially beyond what the
/// quoting in user data already neutralises.
fn is_package_spec(spec: &str) -> bool {
    !spec.is_empty()
        && spec.len() <= 200
        && spec.starts_with(|c: char| c.is_ascii_alphanumeric())
        && spec
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-=<>!~*@/:[],".contains(c))
}

fn is_env_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates a resolved template.
pub fn validate(t: &Template) -> TemplateReport {
    let mut r = TemplateReport::new(&t.name, Some(t.slug.clone()), &t.path);

    if t.slug.is_empty()
        || !t
            .slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        r.add_issue(
            "names",
            format!(
                "slug '{}' must be lowercase letters, digits and hyphens",
                t.slug
            ),
        );
    }
    if t.name.len() > 128 {
        r.add_issue("names", "name is longer than 128 characters".into());
    }

    if t.base.os.is_none() {
        r.add_issue(
            "base image",
            "base.os is not set (amazon-linux, rocky or ubuntu)".into(),
        );
    }
    match t.base.ssh_user.as_deref() {
        None => r.add_issue("base image", "base.ssh_user is not set".into()),
        Some(user) if !is_posix_user(user) => r.add_issue(
            "base image",
            format!("base.ssh_user '{user}' is not a valid user name"),
        ),
        Some(_) => {}
    }
    match &t.base.image {
        None => r.add_issue(
            "base image",
            "base.image is not set (an ssm parameter or a name filter)".into(),
        ),
        Some(image) => match (&image.ssm, &image.name) {
            (Some(_), Some(_)) => r.add_issue(
                "base image",
                "base.image has both ssm and name; use one".into(),
            ),
            (None, None) => r.add_issue("base image", "base.image needs ssm or name".into()),
            (None, Some(_)) if image.owners.is_empty() => r.add_issue(
                "base image",
                "base.image.name needs owners, or any account's image could match".into(),
            ),
            _ => {}
        },
    }

    for package in t.all_packages() {
        if !is_package_spec(&package) {
            r.add_issue(
                "packages",
                format!("'{package}' is not a package name or version spec"),
            );
        }
    }

    for user in &t.users {
        if !is_posix_user(&user.name) {
            r.add_issue("users", format!("'{}' is not a valid user name", user.name));
        }
        if let Some(shell) = &user.shell
            && (!shell.starts_with('/')
                || !shell
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c)))
        {
            r.add_issue(
                "users",
                format!(
                    "shell '{shell}' for '{}' must be an absolute path",
                    user.name
                ),
            );
        }
    }

    if t.ports.contains(&0) {
        r.add_issue("ports", "port 0 is not a port; use 1-65535".into());
    }

    for service in &t.services {
        let name_ok = service.name.starts_with(|c: char| c.is_ascii_lowercase())
            && service
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            r.add_issue(
                "services",
                format!(
                    "service name '{}' must be lowercase letters, digits and hyphens",
                    service.name
                ),
            );
        }
        let known = matches!(service.name.as_str(), "jupyter" | "rstudio");
        if !known && service.command.is_none() {
            r.add_issue(
                "services",
                format!(
                    "service '{}' needs a command (only jupyter and rstudio are built in)",
                    service.name
                ),
            );
        }
        if service.port == Some(0) {
            r.add_issue("services", format!("service '{}' has port 0", service.name));
        }
        if let Some(user) = &service.user {
            let exists =
                t.users.iter().any(|u| &u.name == user) || t.base.ssh_user.as_ref() == Some(user);
            if !exists {
                r.add_issue(
                    "services",
                    format!(
                        "service '{}' runs as '{user}', who is not one of the template's users",
                        service.name
                    ),
                );
            }
        }
    }

    for (size, instance_type) in &t.instance.sizes {
        if !looks_like_instance_type(instance_type) {
            r.add_issue(
                "instance",
                format!("sizes.{size}: '{instance_type}' is not an instance type"),
            );
        }
    }
    if t.instance_type_for(t.default_size()).is_none() {
        r.add_issue(
            "instance",
            format!(
                "no instance type for default size {} on {:?}/{}; add it under instance.sizes",
                t.default_size(),
                t.family(),
                t.architecture()
            ),
        );
    }
    let root = t.root_volume_gb();
    if !(8..=16_384).contains(&root) {
        r.add_issue(
            "instance",
            format!("root_volume_gb {root} must be between 8 and 16384"),
        );
    }
    if !pricing::ROOT_VOLUME_TYPES.contains(&t.root_volume_type()) {
        r.add_issue(
            "instance",
            format!(
                "root_volume_type '{}' cannot be a workspace's root volume; use {}",
                t.root_volume_type(),
                pricing::ROOT_VOLUME_TYPES.join(" or ")
            ),
        );
    }
    if t.idle.idle_minutes == Some(0) {
        r.add_issue("instance", "idle.idle_minutes must be at least 1".into());
    }

    for key in t.environment.keys() {
        if !is_env_key(key) {
            r.add_issue(
                "environment",
                format!("'{key}' is not a valid variable name"),
            );
        }
    }

    // The longest name and a full-length secret: if this fits, every launch fits.
    let longest_name = "w".repeat(63);
    let secret = "s".repeat(32);
    let setup = WorkspaceSetup {
        workspace: &longest_name,
        service_secret: &secret,
    };
    if let Err(error) = userdata::render(t, &setup) {
        r.add_issue("user data", error.to_string());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::{Origin, Parsed, parse, resolve};

    fn report(text: &str) -> TemplateReport {
        let parsed = vec![Parsed::new(
            parse(text).expect("parses"),
            Origin::User,
            "t.yml".into(),
        )];
        let name = parsed[0].spec.name.clone();
        validate(&resolve(&parsed, &name).expect("resolves"))
    }

    const BASE: &str = "name: T\nbase:\n  os: rocky\n  ssh_user: rocky\n  image: {name: 'Rocky-9-*', owners: ['792107900819']}\n";

    #[test]
    fn a_complete_template_passes_every_check() {
        let r = report(BASE);
        assert_eq!(r.status, ValidationStatus::Valid, "{:?}", r.issues);
        assert_eq!(r.checks_passed, CHECKS.len());
    }

    #[test]
    fn each_problem_names_its_check() {
        let r = report(&format!(
            "{BASE}packages:\n  system: ['rm -rf']\nusers:\n  - {{name: Bad User}}\nports: [0]\n\
             instance:\n  root_volume_gb: 2\n  sizes: {{M: 'not a type'}}\nenvironment: {{'1X': y}}\n"
        ));
        assert_eq!(r.status, ValidationStatus::Invalid);
        for check in ["packages", "users", "ports", "instance", "environment"] {
            assert!(
                r.issues.iter().any(|i| i.starts_with(check)),
                "{check} missing: {:?}",
                r.issues
            );
        }
        assert_eq!(r.checks_passed, CHECKS.len() - 5);
    }

    #[test]
    fn images_need_exactly_one_lookup() {
        let r = report(
            "name: T\nbase:\n  os: rocky\n  ssh_user: rocky\n  image: {ssm: /a, name: b, owners: [x]}\n",
        );
        assert!(
            r.issues.iter().any(|i| i.contains("both ssm and name")),
            "{:?}",
            r.issues
        );
        let r = report("name: T\nbase:\n  os: rocky\n  ssh_user: rocky\n  image: {name: 'x-*'}\n");
        assert!(
            r.issues.iter().any(|i| i.contains("owners")),
            "{:?}",
            r.issues
        );
    }

    #[test]
    fn arm_gpu_templates_need_their_own_sizes() {
        let r = report(&format!(
            "{BASE}instance:\n  family: gpu\n  architecture: arm64\n"
        ));
        assert!(
            r.issues.iter().any(|i| i.contains("instance.sizes")),
            "{:?}",
            r.issues
        );
        let r = report(&format!(
            "{BASE}instance:\n  family: gpu\n  architecture: arm64\n  sizes: {{M: g5g.xlarge}}\n"
        ));
        assert_eq!(r.status, ValidationStatus::Valid, "{:?}", r.issues);
    }

    #[test]
    fn services_running_as_strangers_are_refused() {
        let r = report(&format!(
            "{BASE}services:\n  - {{name: jupyter, port: 8888, user: nobody}}\n"
        ));
        assert!(
            r.issues.iter().any(|i| i.contains("nobody")),
            "{:?}",
            r.issues
        );
    }
}
