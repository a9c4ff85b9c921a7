//! The boot script (EC2 user data) generated from a resolved template.
//!
//! Every value that comes from a template or a request (package names, user names, environment
//! values, secrets) is shell-quoted; only the template's own `setup` commands are passed through
//! as commands, because running them is their purpose. The script must fit EC2's user-data
//! limit; an oversize script is an error before any AWS call, never a truncated boot.

use std::fmt::Write as _;

use super::template::{PackageSource, ServiceAuth, ServiceSpec, Template};

/// EC2's limit on user data, in bytes, before base64 encoding.
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// Where conda is installed on the workspace.
const CONDA_PREFIX: &str = "/opt/conda";

/// Per-workspace values the script needs.
#[derive(Clone, Debug)]
pub struct WorkspaceSetup<'a> {
    pub workspace: &'a str,
    /// The secret for services with token or password auth (Jupyter's token, RStudio's
    /// password). Generated per workspace by the daemon; never part of a template.
    pub service_secret: &'a str,
}

/// Why a script could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDataError {
    #[error(
        "the generated setup script is {size} bytes, over EC2's user-data limit of {limit} bytes"
    )]
    TooLarge { size: usize, limit: usize },
    #[error("the template has no operating system (base.os), so no setup script can be made")]
    NoOs,
    #[error("value {0:?} cannot be passed to a shell (it contains a NUL byte)")]
    Unquotable(String),
    #[error("service '{0}' needs a command: Prism only knows how to run jupyter and rstudio")]
    UnknownService(String),
}

fn quote(value: &str) -> Result<String, UserDataError> {
    shlex::try_quote(value)
        .map(|q| q.into_owned())
        .map_err(|_| UserDataError::Unquotable(value.to_string()))
}

fn quote_all(values: &[String]) -> Result<String, UserDataError> {
    let quoted: Result<Vec<String>, _> = values.iter().map(|v| quote(v)).collect();
    Ok(quoted?.join(" "))
}

/// Renders the boot script for `template` and checks it fits.
pub fn render(template: &Template, setup: &WorkspaceSetup<'_>) -> Result<String, UserDataError> {
    let os = template.os().ok_or(UserDataError::NoOs)?;
    let mut s = String::new();
    let w = &mut s;
    // writeln! into a String cannot fail; the results are ignored with `let _`.
    let _ = writeln!(w, "#!/bin/bash");
    let _ = writeln!(
        w,
        "# Written by Prism for workspace {} from template {}.",
        quote(setup.workspace)?,
        quote(&template.name)?
    );
    let _ = writeln!(w, "set -euo pipefail");
    let _ = writeln!(w, "exec > >(tee -a /var/log/prism-setup.log) 2>&1");
    let _ = writeln!(
        w,
        "echo \"prism: setup started $(date -u +%Y-%m-%dT%H:%M:%SZ)\""
    );

    let system = template
        .packages
        .get(&PackageSource::System)
        .cloned()
        .unwrap_or_default();
    if !system.is_empty() {
        let _ = writeln!(w, "\n# System packages");
        match os.system_manager() {
            super::template::PackageManager::Apt => {
                let _ = writeln!(w, "export DEBIAN_FRONTEND=noninteractive");
                let _ = writeln!(w, "apt-get update -y");
                let _ = writeln!(w, "apt-get install -y {}", quote_all(&system)?);
            }
            _ => {
                let _ = writeln!(w, "dnf install -y {}", quote_all(&system)?);
            }
        }
    }

    if !template.users.is_empty() {
        let _ = writeln!(
            w,
            "\n# Accounts; each gets the key the image's login user was given"
        );
        let login = template.base.ssh_user.as_deref().unwrap_or("ec2-user");
        let _ = writeln!(w, "login_keys=/home/{}/.ssh/authorized_keys", quote(login)?);
        for user in &template.users {
            let name = quote(&user.name)?;
            let shell = quote(user.shell.as_deref().unwrap_or("/bin/bash"))?;
            let _ = writeln!(
                w,
                "id -u {name} >/dev/null 2>&1 || useradd -m -s {shell} {name}"
            );
            if user.sudo {
                let _ = writeln!(w, "usermod -aG {} {name}", os.admin_group());
            }
            let _ = writeln!(w, "home=$(getent passwd {name} | cut -d: -f6)");
            let _ = writeln!(
                w,
                "if [ -f \"$login_keys\" ]; then install -d -m 700 -o {name} -g {name} \
                 \"$home/.ssh\" && install -m 600 -o {name} -g {name} \"$login_keys\" \
                 \"$home/.ssh/authorized_keys\"; fi"
            );
        }
    }

    let conda = template
        .packages
        .get(&PackageSource::Conda)
        .cloned()
        .unwrap_or_default();
    let needs_conda = !conda.is_empty() || template.services.iter().any(|s| s.name == "jupyter");
    if needs_conda {
        let _ = writeln!(w, "\n# Conda (Miniforge) in {CONDA_PREFIX}");
        let _ = writeln!(w, "if [ ! -x {CONDA_PREFIX}/bin/conda ]; then");
        let _ = writeln!(
            w,
            "  curl -fsSL -o /tmp/miniforge.sh \"https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh\""
        );
        let _ = writeln!(w, "  bash /tmp/miniforge.sh -b -p {CONDA_PREFIX}");
        let _ = writeln!(w, "fi");
        let _ = writeln!(
            w,
            "echo 'export PATH={CONDA_PREFIX}/bin:$PATH' > /etc/profile.d/prism-conda.sh"
        );
        let mut wanted = conda.clone();
        if template.services.iter().any(|s| s.name == "jupyter")
            && !wanted.iter().any(|p| p.starts_with("jupyter"))
        {
            wanted.push("jupyterlab".to_string());
        }
        let _ = writeln!(
            w,
            "{CONDA_PREFIX}/bin/conda install -y -c conda-forge {}",
            quote_all(&wanted)?
        );
    }

    let pip = template
        .packages
        .get(&PackageSource::Pip)
        .cloned()
        .unwrap_or_default();
    if !pip.is_empty() {
        let _ = writeln!(w, "\n# pip packages");
        let pip_bin = if needs_conda {
            format!("{CONDA_PREFIX}/bin/pip")
        } else {
            "python3 -m pip".into()
        };
        let _ = writeln!(w, "{pip_bin} install {}", quote_all(&pip)?);
    }

    if !template.environment.is_empty() {
        let _ = writeln!(w, "\n# Environment for login shells");
        let _ = writeln!(w, ": > /etc/profile.d/prism-env.sh");
        for (key, value) in &template.environment {
            let line = format!("export {key}={}", quote(value)?);
            let _ = writeln!(w, "echo {} >> /etc/profile.d/prism-env.sh", quote(&line)?);
        }
    }

    for service in &template.services {
        render_service(w, template, service, setup)?;
    }

    if !template.setup.is_empty() {
        let _ = writeln!(w, "\n# Template setup commands");
        for command in &template.setup {
            let _ = writeln!(w, "{command}");
        }
    }

    let _ = writeln!(
        w,
        "\necho \"prism: setup finished $(date -u +%Y-%m-%dT%H:%M:%SZ)\""
    );

    if s.len() > USER_DATA_LIMIT {
        return Err(UserDataError::TooLarge {
            size: s.len(),
            limit: USER_DATA_LIMIT,
        });
    }
    Ok(s)
}

fn render_service(
    w: &mut String,
    template: &Template,
    service: &ServiceSpec,
    setup: &WorkspaceSetup<'_>,
) -> Result<(), UserDataError> {
    let user = service
        .user
        .as_deref()
        .or(template.primary_user())
        .or(template.base.ssh_user.as_deref())
        .unwrap_or("root");
    let mut environment_file = None;
    let _ = writeln!(w, "\n# Service: {}", service.name);
    let command = match (service.name.as_str(), &service.command) {
        (_, Some(command)) => command.clone(),
        ("jupyter", None) => {
            let port = service.port.unwrap_or(8888);
            // The token goes into a root-only environment file that systemd reads, not into the
            // world-readable unit or the process's command line; Jupyter reads JUPYTER_TOKEN.
            let token = match service.auth {
                ServiceAuth::None => String::new(),
                _ => setup.service_secret.to_string(),
            };
            let _ = writeln!(w, "install -d -m 700 /etc/prism");
            let _ = writeln!(
                w,
                "( umask 077; echo {} > /etc/prism/jupyter.env )",
                quote(&format!("JUPYTER_TOKEN={token}"))?
            );
            environment_file = Some("/etc/prism/jupyter.env");
            format!("{CONDA_PREFIX}/bin/jupyter lab --no-browser --ip=0.0.0.0 --port={port}")
        }
        ("rstudio", None) => {
            if service.auth == ServiceAuth::Password {
                let pair = quote(&format!("{user}:{}", setup.service_secret))?;
                let _ = writeln!(w, "echo {pair} | chpasswd");
            }
            // RStudio Server runs as its own system service once installed.
            let _ = writeln!(w, "systemctl enable --now rstudio-server || true");
            return Ok(());
        }
        (other, None) => return Err(UserDataError::UnknownService(other.to_string())),
    };
    let unit = format!("prism-{}", service.name);
    let _ = writeln!(w, "cat > /etc/systemd/system/{unit}.service <<'PRISM_UNIT'");
    let _ = writeln!(
        w,
        "[Unit]\nDescription=Prism service {}\nAfter=network-online.target",
        service.name
    );
    let _ = writeln!(w, "[Service]\nUser={user}\nWorkingDirectory=~");
    if let Some(file) = environment_file {
        let _ = writeln!(w, "EnvironmentFile={file}");
    }
    let _ = writeln!(w, "ExecStart={command}\nRestart=on-failure");
    let _ = writeln!(w, "[Install]\nWantedBy=multi-user.target\nPRISM_UNIT");
    let _ = writeln!(
        w,
        "systemctl daemon-reload && systemctl enable --now {unit}"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::template::{Origin, Parsed, parse, resolve};

    fn template(text: &str) -> Template {
        let parsed = vec![Parsed::new(
            parse(text).expect("parses"),
            Origin::Bundled,
            "t".into(),
        )];
        let name = parsed[0].spec.name.clone();
        resolve(&parsed, &name).expect("resolves")
    }

    const SETUP: WorkspaceSetup<'static> = WorkspaceSetup {
        workspace: "box-1",
        service_secret: "s3cr3t",
    };

    #[test]
    fn renders_packages_users_and_services() {
        let t = template(
            "name: T\nbase: {os: rocky, ssh_user: rocky}\npackages:\n  system: [git]\n  conda: [numpy]\n\
             users:\n  - {name: datascientist, sudo: true}\nservices:\n  - {name: jupyter, port: 8888, auth: token}\n",
        );
        let script = render(&t, &SETUP).expect("renders");
        assert!(script.starts_with("#!/bin/bash\n"));
        assert!(script.contains("dnf install -y git\n"), "{script}");
        assert!(
            script.contains("useradd -m -s /bin/bash datascientist"),
            "{script}"
        );
        assert!(
            script.contains("usermod -aG wheel datascientist"),
            "{script}"
        );
        assert!(
            script.contains("conda install -y -c conda-forge numpy jupyterlab"),
            "{script}"
        );
        assert!(
            script.contains("echo 'JUPYTER_TOKEN=s3cr3t' > /etc/prism/jupyter.env"),
            "{script}"
        );
        assert!(
            script.contains("EnvironmentFile=/etc/prism/jupyter.env"),
            "{script}"
        );
        assert!(
            !script.contains("--IdentityProvider.token"),
            "token on the command line"
        );
        assert!(script.contains("User=datascientist"), "{script}");
    }

    #[test]
    fn ubuntu_uses_apt_and_the_sudo_group() {
        let t = template(
            "name: U\nbase: {os: ubuntu, ssh_user: ubuntu}\npackages:\n  system: [htop]\nusers:\n  - {name: r, sudo: true}\n",
        );
        let script = render(&t, &SETUP).expect("renders");
        assert!(script.contains("apt-get install -y htop"), "{script}");
        assert!(script.contains("usermod -aG sudo r"), "{script}");
    }

    #[test]
    fn hostile_values_are_quoted() {
        let t = template(
            "name: Q\nbase: {os: rocky}\npackages:\n  system: [\"a; rm -rf /\"]\nenvironment:\n  GREETING: \"$(reboot) it's\"\n",
        );
        let script = render(
            &t,
            &WorkspaceSetup {
                workspace: "w",
                service_secret: "x'; reboot; '",
            },
        )
        .expect("renders");
        assert!(script.contains("dnf install -y 'a; rm -rf /'"), "{script}");
        // Unquoting the generated line twice (once by the boot shell, once by the login shell
        // reading the profile) gives back exactly the template's value.
        let line = script
            .lines()
            .find(|l| l.contains("GREETING"))
            .expect("env line");
        let words = shlex::split(line).expect("boot shell can parse it");
        assert_eq!(words[0], "echo");
        let exported = shlex::split(&words[1]).expect("login shell can parse it");
        assert_eq!(exported, vec!["export", "GREETING=$(reboot) it's"]);
    }

    #[test]
    fn oversize_scripts_are_refused_with_their_size() {
        let many: Vec<String> = (0..3000).map(|i| format!("package-number-{i}")).collect();
        let text = format!(
            "name: Big\nbase: {{os: rocky}}\npackages:\n  system: [{}]\n",
            many.join(", ")
        );
        match render(&template(&text), &SETUP) {
            Err(UserDataError::TooLarge { size, limit }) => {
                assert!(size > limit);
                assert_eq!(limit, 16_384);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn unknown_services_need_a_command() {
        let t =
            template("name: S\nbase: {os: rocky}\nservices:\n  - {name: mystery, port: 9000}\n");
        assert_eq!(
            render(&t, &SETUP),
            Err(UserDataError::UnknownService("mystery".into()))
        );
    }

    #[test]
    fn templates_without_os_cannot_render() {
        let t = template("name: N\n");
        assert_eq!(render(&t, &SETUP), Err(UserDataError::NoOs));
    }
}
