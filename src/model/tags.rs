//! What Prism writes into a workspace's EC2 tags beyond its name and owner, in a form it can
//! read back, so that a workspace rebuilt from tags after a lost database keeps what it can.
//!
//! Tags are readable by anyone who may describe the instance, so nothing secret goes here.

use super::template::{ServiceAuth, ServiceSpec};

/// The tag listing a workspace's services: `name:port:auth:user` entries joined by commas,
/// e.g. `jupyter:8888:token:datascientist`. Only services with a port are listed (the others
/// cannot be connected to).
pub const SERVICES_TAG: &str = "prism:services";

/// EC2's limit on a tag value, in characters.
pub const TAG_VALUE_LIMIT: usize = 256;

/// Where a workspace's list of services came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServicesSource {
    /// Recorded when this store launched the workspace.
    Launch,
    /// Read back from the [`SERVICES_TAG`] tag.
    Tags,
    /// Taken from the named template as it was when the workspace was rebuilt; the template
    /// may have changed since the launch.
    Template,
    /// Neither the tags nor a template could say.
    Unknown,
}

impl ServicesSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ServicesSource::Launch => "launch",
            ServicesSource::Tags => "tags",
            ServicesSource::Template => "template",
            ServicesSource::Unknown => "unknown",
        }
    }

    /// Reads a stored name; anything unrecognised counts as unknown.
    pub fn from_name(name: &str) -> ServicesSource {
        match name {
            "launch" => ServicesSource::Launch,
            "tags" => ServicesSource::Tags,
            "template" => ServicesSource::Template,
            _ => ServicesSource::Unknown,
        }
    }
}

fn auth_name(auth: ServiceAuth) -> &'static str {
    match auth {
        ServiceAuth::None => "none",
        ServiceAuth::Token => "token",
        ServiceAuth::Password => "password",
    }
}

/// Whether `text` can sit between the separators: the characters validated service and user
/// names are made of.
fn plain(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The tag value for `services`, or `None` when it would not fit in a tag (then no tag is
/// written, and a rebuild says the services are unknown rather than guess).
pub fn encode_services(services: &[ServiceSpec]) -> Option<String> {
    let mut entries = Vec::new();
    for service in services {
        let Some(port) = service.port else { continue };
        let user = service.user.as_deref().unwrap_or_default();
        if service.name.is_empty() || !plain(&service.name) || !plain(user) {
            return None;
        }
        entries.push(format!(
            "{}:{port}:{}:{user}",
            service.name,
            auth_name(service.auth)
        ));
    }
    let value = entries.join(",");
    (value.len() <= TAG_VALUE_LIMIT).then_some(value)
}

/// Reads a [`SERVICES_TAG`] value back; `None` when it is malformed.
pub fn decode_services(value: &str) -> Option<Vec<ServiceSpec>> {
    if value.is_empty() {
        return Some(Vec::new());
    }
    value
        .split(',')
        .map(|entry| {
            let mut parts = entry.split(':');
            let (Some(name), Some(port), Some(auth), Some(user), None) = (
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
                parts.next(),
            ) else {
                return None;
            };
            let auth = match auth {
                "none" => ServiceAuth::None,
                "token" => ServiceAuth::Token,
                "password" => ServiceAuth::Password,
                _ => return None,
            };
            if name.is_empty() || !plain(name) || !plain(user) {
                return None;
            }
            Some(ServiceSpec {
                name: name.to_string(),
                port: Some(port.parse().ok().filter(|p| *p != 0)?),
                user: (!user.is_empty()).then(|| user.to_string()),
                auth,
                command: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(
        name: &str,
        port: Option<u16>,
        auth: ServiceAuth,
        user: Option<&str>,
    ) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            port,
            user: user.map(str::to_string),
            auth,
            command: None,
        }
    }

    #[test]
    fn services_survive_a_round_trip_through_the_tag() {
        let services = vec![
            service(
                "jupyter",
                Some(8888),
                ServiceAuth::Token,
                Some("datascientist"),
            ),
            service("rstudio", Some(8787), ServiceAuth::Password, None),
        ];
        let tag = encode_services(&services).expect("fits");
        assert_eq!(
            tag,
            "jupyter:8888:token:datascientist,rstudio:8787:password:"
        );
        assert_eq!(decode_services(&tag), Some(services));
        assert_eq!(
            decode_services(""),
            Some(vec![]),
            "no services is known too"
        );
    }

    #[test]
    fn what_a_tag_cannot_hold_is_left_out_or_refused() {
        let portless = vec![service("agent", None, ServiceAuth::None, None)];
        assert_eq!(encode_services(&portless).as_deref(), Some(""));
        let many: Vec<ServiceSpec> = (0..40)
            .map(|i| {
                service(
                    &format!("service-{i}"),
                    Some(9000),
                    ServiceAuth::Token,
                    None,
                )
            })
            .collect();
        assert_eq!(encode_services(&many), None, "over 256 characters");
        for bad in [
            "jupyter",
            "jupyter:x:token:",
            "jupyter:8888:magic:",
            "a:1:none::extra",
        ] {
            assert_eq!(decode_services(bad), None, "{bad}");
        }
    }
}
