//! The bearer token that every request over TCP must carry.
//!
//! 256 random bits from a generator the operating system seeds, written hex-encoded to a file only its
//! owner can read (0600) in the config directory. The daemon creates it on first start and
//! refuses a file others can read; clients (the CLI, the dashboard, scripts through `prism
//! daemon token`) read it from there, so it never appears in a URL, on a command line, or in a
//! log. Comparisons take the same time whatever the guess.

use std::fmt;
use std::io::Write as _;
use std::path::Path;

use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

/// Bytes of randomness in a token.
const TOKEN_BYTES: usize = 32;

/// A token. Its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Why a token file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "{path} can be read or changed by other users (mode {mode:o}); the token in it controls \
         your AWS account: run `chmod 600 {path}`"
    )]
    NotPrivate { path: String, mode: u32 },
    #[error(
        "{path} belongs to another user (uid {owner}); the daemon's token must be your own file: \
         delete it and start the daemon to make a new one"
    )]
    NotOwned { path: String, owner: u32 },
    #[error("{path} does not hold a prism token; delete it and start the daemon to make a new one")]
    Malformed { path: String },
    #[error("cannot {what} {path}: {reason}")]
    Io {
        what: &'static str,
        path: String,
        reason: String,
    },
}

fn io_error(what: &'static str, path: &Path, error: &std::io::Error) -> TokenError {
    TokenError::Io {
        what,
        path: path.display().to_string(),
        reason: error.to_string(),
    }
}

impl Token {
    /// A fresh token from a cryptographically secure generator seeded by the operating
    /// system (rand's thread generator).
    pub fn generate() -> Token {
        let mut bytes = [0_u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Token(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    fn parse(text: &str) -> Option<Token> {
        let text = text.trim();
        let well_formed = text.len() == TOKEN_BYTES * 2
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        well_formed.then(|| Token(text.to_string()))
    }

    /// The token's text, for the `Authorization` header and `prism daemon token` only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `offered` is this token, in time that does not depend on where they differ.
    pub fn matches(&self, offered: &str) -> bool {
        self.0.as_bytes().ct_eq(offered.as_bytes()).into()
    }
}

/// Refuses a file that anyone but its owner can read or write.
pub fn check_private(path: &Path) -> Result<(), TokenError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let meta = std::fs::metadata(path).map_err(|e| io_error("read", path, &e))?;
        let owner = meta.uid();
        if owner != nix::unistd::geteuid().as_raw() {
            return Err(TokenError::NotOwned {
                path: path.display().to_string(),
                owner,
            });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TokenError::NotPrivate {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    Ok(())
}

/// Reads the token at `path`, if there is a usable one.
pub fn read(path: &Path) -> Result<Option<Token>, TokenError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path, &e)),
    };
    check_private(path)?;
    Token::parse(&text)
        .map(Some)
        .ok_or_else(|| TokenError::Malformed {
            path: path.display().to_string(),
        })
}

/// Writes `token` to `path` so that only its owner can read it: to a private temporary file
/// first, then renamed over the old one, so a reader never sees half a token.
pub fn write(path: &Path, token: &Token) -> Result<(), TokenError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, &e))?;
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .map_err(|e| io_error("create", &tmp, &e))?;
    file.write_all(token.expose().as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error("write", &tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_error("replace", path, &e))
}

/// The daemon's token: the one in `path`, or a new one written there on first start.
pub fn load_or_create(path: &Path) -> Result<Token, TokenError> {
    if let Some(token) = read(path)? {
        return Ok(token);
    }
    let token = Token::generate();
    write(path, &token)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_and_never_printed() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert_eq!(format!("{a:?}"), "Token(…)");
        assert!(a.matches(a.expose()));
        assert!(!a.matches(b.expose()));
        assert!(!a.matches(""));
        assert!(!a.matches(&a.expose()[..63]));
    }

    #[test]
    fn a_token_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config/token");
        let first = load_or_create(&path).expect("create");
        let again = load_or_create(&path).expect("read");
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        load_or_create(&path).expect("create");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = load_or_create(&path).expect_err("world-readable");
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_a_token_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        write(&path, &Token::generate()).expect("write");
        std::fs::write(&path, "hunter2\n").expect("overwrite");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        assert!(matches!(read(&path), Err(TokenError::Malformed { .. })));
    }
}
