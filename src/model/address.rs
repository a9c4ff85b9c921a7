//! Loopback addresses: which host names count as this machine, and the listen address syntax.
//!
//! The daemon's API drives an AWS account, so it must only be reached from this machine. Two
//! rules follow: it listens on a loopback address only, and it answers only requests addressed
//! to a loopback name. The second stops DNS rebinding, where a web page's own host name is made
//! to resolve to 127.0.0.1 and the browser then talks to the daemon under that foreign name.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Whether `host` (a host name or IP literal, IPv6 in brackets) names this machine: `localhost`
/// in any case, an address in 127.0.0.0/8, or `[::1]`. An IP literal is safe to accept because
/// a foreign web page cannot make a browser send one for its own origin.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of `host[:port]` (IPv6 in brackets); `None` when the text is not an authority, for
/// instance when the port is not a number.
fn split_authority(authority: &str) -> Option<&str> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        (host, rest.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return None;
    }
    (!host.is_empty()).then_some(host)
}

/// Whether an HTTP `Host` value (`host[:port]`) addresses this machine.
pub fn is_loopback_authority(authority: &str) -> bool {
    split_authority(authority).is_some_and(is_loopback_host)
}

/// Whether a browser `Origin` value is an http(s) page served from this machine. `null` (a
/// sandboxed frame or a local file) is not.
pub fn is_loopback_origin(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let authority = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    authority.is_some_and(|a| !a.contains('/') && is_loopback_authority(a))
}

/// Why a listen address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not a listen address; write an IP address and port such as 127.0.0.1:8947, \
     [::1]:8947 or localhost:8947"
)]
pub struct ListenAddressError(pub String);

/// Parses a listen address: an IP socket address, or `localhost:PORT` (which means 127.0.0.1,
/// the address clients try first). Whether the address is loopback is checked separately, so
/// that the refusal of a public address can say why.
pub fn parse_listen(text: &str) -> Result<SocketAddr, ListenAddressError> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port
            .parse::<u16>()
            .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .map_err(|_| ListenAddressError(text.to_string())),
        _ => Err(ListenAddressError(text.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("127.0.0.1", true)]
    #[case("127.0.0.1:8947", true)]
    #[case("127.1.2.3:80", true)]
    #[case("localhost", true)]
    #[case("LocalHost:18950", true)]
    #[case("[::1]", true)]
    #[case("[::1]:8947", true)]
    #[case("evil.example.com", false)]
    #[case("evil.example.com:8947", false)]
    #[case("localhost.evil.example.com", false)]
    #[case("127.0.0.1.nip.io:8947", false)]
    #[case("10.0.0.5:8947", false)]
    #[case("[::2]:8947", false)]
    #[case("::1", false)]
    #[case("127.0.0.1:notaport", false)]
    #[case("127.0.0.1:", false)]
    #[case("localhost:99999", false)]
    #[case("", false)]
    #[case(":8947", false)]
    fn host_headers(#[case] host: &str, #[case] loopback: bool) {
        assert_eq!(is_loopback_authority(host), loopback, "{host}");
    }

    #[rstest]
    #[case("http://127.0.0.1:8947", true)]
    #[case("http://localhost:3000", true)]
    #[case("https://[::1]", true)]
    #[case("HTTP://LOCALHOST", true)]
    #[case("http://evil.example.com", false)]
    #[case("https://localhost.evil.example.com", false)]
    #[case("null", false)]
    #[case("file://", false)]
    #[case("ftp://127.0.0.1", false)]
    #[case("http://127.0.0.1/path", false)]
    #[case("http://evil.example.com#http://127.0.0.1", false)]
    fn origins(#[case] origin: &str, #[case] loopback: bool) {
        assert_eq!(is_loopback_origin(origin), loopback, "{origin}");
    }

    /// Regression: `--listen localhost:18950` was refused as invalid syntax.
    #[rstest]
    #[case("localhost:18950", "127.0.0.1:18950")]
    #[case("LOCALHOST:1", "127.0.0.1:1")]
    #[case("127.0.0.1:8947", "127.0.0.1:8947")]
    #[case("[::1]:8947", "[::1]:8947")]
    #[case("0.0.0.0:8947", "0.0.0.0:8947")]
    fn listen_addresses_accept_localhost(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(
            parse_listen(text).map(|a| a.to_string()),
            Ok(expected.to_string())
        );
    }

    #[rstest]
    #[case("localhost")]
    #[case("localhost:port")]
    #[case("example.com:8947")]
    #[case("not an address")]
    fn listen_addresses_refuse_the_rest_with_examples(#[case] text: &str) {
        let error = parse_listen(text).expect_err("refused");
        assert!(error.to_string().contains("localhost:8947"), "{error}");
    }
}
