//! How clients reach the daemon: a Unix socket only its user can open, and TCP on loopback for
//! curl and other clients, where every request carries the bearer token.
//!
//! On a lab server several users run daemons. The socket lives in a directory of the user's own
//! (0700, refused if others can enter it), and each connection's peer uid is checked against
//! the daemon's, so no other user gets through even if the permissions were loosened later. TCP
//! on the default port is first come, first served between users: when 8947 is taken, the
//! daemon still starts on its socket and serves TCP on the configured fallback (or not at all),
//! and says so. An address the user asked for explicitly is not second-guessed: if it is taken,
//! that is an error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use tokio::net::{TcpListener, UnixListener, UnixStream};

/// Where TCP goes when the default port is taken: an address, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fallback {
    At(SocketAddr),
    None,
}

impl Fallback {
    /// Reads `tcp_fallback`: an address (`127.0.0.1:0` picks any free port) or `none`.
    pub fn parse(text: &str) -> Result<Fallback, String> {
        if text.eq_ignore_ascii_case("none") {
            return Ok(Fallback::None);
        }
        crate::model::address::parse_listen(text)
            .map(Fallback::At)
            .map_err(|e| {
                format!("tcp_fallback = {text:?}: {e}; write an address such as \"127.0.0.1:0\" or \"none\"")
            })
    }
}

/// What TCP ended up as, for the log and the status.
#[derive(Debug)]
pub enum TcpOutcome {
    /// Listening where asked.
    Bound(TcpListener),
    /// The default port was taken; listening on the fallback instead.
    Fallback {
        listener: TcpListener,
        wanted: SocketAddr,
    },
    /// The default port was taken and the fallback is none (or failed too): socket only.
    Off { wanted: SocketAddr, reason: String },
}

fn in_use(address: SocketAddr) -> anyhow::Error {
    anyhow::anyhow!(
        "cannot listen on {address}: the address is already in use (is another prism daemon \
         running? try 'prism daemon status', or set a different `listen` address)"
    )
}

/// Binds TCP. `explicit` says the address was asked for (flag, environment or config file):
/// then a taken port is an error, reported at once. The default port falls back instead.
pub async fn bind_tcp(
    address: SocketAddr,
    explicit: bool,
    fallback: Fallback,
) -> anyhow::Result<TcpOutcome> {
    let error = match TcpListener::bind(address).await {
        Ok(listener) => return Ok(TcpOutcome::Bound(listener)),
        Err(error) => error,
    };
    if error.kind() != std::io::ErrorKind::AddrInUse {
        return Err(anyhow::anyhow!("cannot listen on {address}: {error}"));
    }
    if explicit {
        return Err(in_use(address));
    }
    match fallback {
        Fallback::None => Ok(TcpOutcome::Off {
            wanted: address,
            reason: "tcp_fallback is none".into(),
        }),
        Fallback::At(other) => match TcpListener::bind(other).await {
            Ok(listener) => Ok(TcpOutcome::Fallback {
                listener,
                wanted: address,
            }),
            Err(error) => Ok(TcpOutcome::Off {
                wanted: address,
                reason: format!("the fallback {other} failed too: {error}"),
            }),
        },
    }
}

/// Listens on the other loopback family's address on the same port as `bound` (`::1` beside
/// `127.0.0.1`, and the reverse), if the machine has it and the port is free there.
pub async fn bind_companion(bound: SocketAddr) -> Option<TcpListener> {
    let other: std::net::IpAddr = match bound.ip() {
        std::net::IpAddr::V4(ip) if ip.is_loopback() => std::net::Ipv6Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_loopback() => std::net::Ipv4Addr::LOCALHOST.into(),
        _ => return None,
    };
    let address = SocketAddr::new(other, bound.port());
    match TcpListener::bind(address).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::info!(%address, %error, "serving TCP on {bound} only");
            None
        }
    }
}

/// The user id the daemon runs as: the only one allowed through the socket.
#[cfg(unix)]
pub fn own_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Makes `dir` (and its parents) exist, and checks that it is a directory of this user's that
/// no one else can enter. A directory others could enter is refused, not silently fixed: it
/// means something else set it up, and the user should know.
pub fn ensure_private_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, PermissionsExt as _};
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            // The mode only applies to the last component; make sure of it whatever the umask.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot make {} private", dir.display()))?;
        }
        let meta =
            std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        anyhow::ensure!(meta.is_dir(), "{} is not a directory", dir.display());
        anyhow::ensure!(
            meta.uid() == own_uid(),
            "{} belongs to another user (uid {}); the daemon's socket must be in a directory of \
             your own: set PRISM_RUNTIME_DIR",
            dir.display(),
            meta.uid()
        );
        let mode = meta.permissions().mode() & 0o777;
        anyhow::ensure!(
            mode & 0o077 == 0,
            "{} can be entered by other users (mode {mode:o}); the daemon's socket would be \
             theirs to use: run `chmod 700 {}`",
            dir.display(),
            dir.display()
        );
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}

/// Closes `dir` (the data or config directory) to other users if it is this user's and open:
/// earlier versions created them under the umask, and they hold the database (with service
/// secrets) and the logs. Unlike the socket's directory, these are Prism's own, so they are
/// fixed rather than refused; what changed is logged.
pub fn make_private(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let Ok(meta) = std::fs::metadata(dir) else {
            return;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 == 0 {
            return;
        }
        if meta.uid() != own_uid() {
            tracing::warn!(dir = %dir.display(), "belongs to another user and is open to others");
            return;
        }
        match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            Ok(()) => {
                tracing::info!(dir = %dir.display(), was = %format!("{mode:o}"), "made private (700)")
            }
            Err(error) => tracing::warn!(dir = %dir.display(), %error, "cannot make it private"),
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The socket listener, admitting only connections from this daemon's user.
#[derive(Debug)]
pub struct OwnerOnly {
    listener: UnixListener,
    uid: u32,
    pub path: PathBuf,
}

/// Whether a peer may use the socket.
pub fn peer_allowed(peer_uid: u32, own_uid: u32) -> bool {
    peer_uid == own_uid
}

/// Binds the socket at `path` (its directory must already be private). A socket file left by a
/// daemon that died is removed first: the data directory's lock, taken before this, proves no
/// daemon of this directory is running.
pub fn bind_socket(path: &Path) -> anyhow::Result<OwnerOnly> {
    // The data directory's lock does not cover a runtime directory two daemons were told to
    // share: a socket that still answers is another daemon's, and taking it over would hand
    // this user's clients to that daemon's store.
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        anyhow::bail!(
            "another prism daemon is serving the socket {}; give each daemon its own \
             PRISM_RUNTIME_DIR (or stop the other one with 'prism daemon stop')",
            path.display()
        );
    }
    if path.exists() {
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot listen on the socket {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(OwnerOnly {
        listener,
        uid: own_uid(),
        path: path.to_path_buf(),
    })
}

impl axum::serve::Listener for OwnerOnly {
    type Io = UnixStream;
    type Addr = tokio::net::unix::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, address)) => match stream.peer_cred() {
                    Ok(peer) if peer_allowed(peer.uid(), self.uid) => return (stream, address),
                    Ok(peer) => {
                        tracing::warn!(
                            uid = peer.uid(),
                            "refused a socket connection from another user"
                        );
                    }
                    Err(error) => {
                        tracing::warn!(%error, "refused a socket connection whose peer is unknown");
                    }
                },
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "cannot accept on the socket");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks_parse() {
        assert_eq!(Fallback::parse("none"), Ok(Fallback::None));
        assert_eq!(
            Fallback::parse("127.0.0.1:0"),
            Ok(Fallback::At("127.0.0.1:0".parse().expect("addr")))
        );
        assert!(Fallback::parse("somewhere").is_err());
    }

    #[test]
    fn only_the_daemons_own_user_gets_through() {
        assert!(peer_allowed(1000, 1000));
        assert!(!peer_allowed(1001, 1000));
        assert!(!peer_allowed(0, 1000), "not even root's clients");
    }

    #[tokio::test]
    async fn a_taken_default_port_falls_back_and_an_explicit_one_fails() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken = holder.local_addr().expect("addr");
        let any = Fallback::At("127.0.0.1:0".parse().expect("addr"));
        match bind_tcp(taken, false, any).await.expect("fallback") {
            TcpOutcome::Fallback { listener, wanted } => {
                assert_eq!(wanted, taken);
                assert_ne!(listener.local_addr().expect("addr"), taken);
            }
            other => panic!("expected a fallback, got {other:?}"),
        }
        assert!(matches!(
            bind_tcp(taken, false, Fallback::None).await.expect("off"),
            TcpOutcome::Off { .. }
        ));
        let error = bind_tcp(taken, true, any).await.expect_err("explicit");
        assert!(error.to_string().contains("already in use"), "{error}");
    }

    #[cfg(unix)]
    #[test]
    fn a_socket_directory_others_can_enter_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let run = dir.path().join("run");
        ensure_private_dir(&run).expect("created private");
        let mode = std::fs::metadata(&run).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let error = ensure_private_dir(&run).expect_err("open to others");
        assert!(error.to_string().contains("chmod 700"), "{error}");
    }
}
