//! Secret references (`env:`, `file:`, `raw:`) and the `Secret` type that redacts itself.
//!
//! Pure parsing and types; resolving a reference (reading env or files) lives in `shell::secrets`.
//! Must never echo a reference's text in a parse error (a mistyped flag may hold the secret itself)
//! and never print secret bytes: `Secret` and `SecretRef::Raw` format as `[redacted]`.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use secrecy::{ExposeSecret, SecretSlice};
use zeroize::Zeroize;

/// What `Debug`/`Display` print in place of secret material.
pub const REDACTED: &str = "[redacted]";

/// Longest accepted reference, scheme included (the pattern's `{0,127}` plus the first letter).
pub const MAX_REF_LEN: usize = 128;

/// A parsed secret reference. A reference without a known scheme prefix is an environment variable
/// name (`BILLING_CRON_V2` means `env:BILLING_CRON_V2`), as the protocol's manifests use them.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: the variable from the operator's env file, else the process environment.
    Env(String),
    /// `file:/abs/path`: the file's contents, whitespace-trimmed, after ownership and mode checks.
    File(PathBuf),
    /// `raw:literal`: the literal itself (development only).
    Raw(String),
    /// `cred:NAME`: the systemd credential `$CREDENTIALS_DIRECTORY/NAME` (systemd-timer backend only).
    Cred(String),
}

impl SecretRef {
    /// Parse and validate a reference. The error says what is wrong and how to write it; it echoes
    /// only a pattern-valid scheme name or `file:` path, never a raw literal or a malformed input.
    pub fn parse(s: &str) -> Result<SecretRef, String> {
        check_pattern(s)?;
        match s.split_once(':') {
            Some(("env", name)) => parse_env_name(name).map(SecretRef::Env),
            Some(("file", path)) => parse_file_path(path).map(SecretRef::File),
            Some(("raw", literal)) => parse_raw_literal(literal).map(SecretRef::Raw),
            Some(("cred", name)) => parse_cred_name(name).map(SecretRef::Cred),
            Some((scheme, _)) => Err(format!(
                "unknown scheme \"{scheme}:\"; write env:NAME, file:/abs/path, cred:NAME or \
                 raw:literal"
            )),
            None => parse_bare_name(s).map(SecretRef::Env),
        }
    }

    /// Whether this is a development-only `raw:` literal.
    pub fn is_raw(&self) -> bool {
        matches!(self, SecretRef::Raw(_))
    }
}

/// `env:NAME`, `file:/path`, or `raw:[redacted]`: safe to put in errors and logs.
impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Raw(_) => write!(f, "raw:{REDACTED}"),
            SecretRef::Cred(name) => write!(f, "cred:{name}"),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => f.debug_tuple("Env").field(name).finish(),
            SecretRef::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretRef::Raw(_) => f.debug_tuple("Raw").field(&REDACTED).finish(),
            SecretRef::Cred(name) => f.debug_tuple("Cred").field(name).finish(),
        }
    }
}

/// `^[a-zA-Z][a-zA-Z0-9_:./-]{0,127}$`, reporting positions rather than characters.
fn check_pattern(s: &str) -> Result<(), String> {
    const FORM: &str = "write env:NAME, file:/abs/path or raw:literal";
    if s.is_empty() {
        return Err(format!("the secret reference is empty; {FORM}"));
    }
    if s.len() > MAX_REF_LEN {
        return Err(format!(
            "the secret reference is {} bytes long, at most {MAX_REF_LEN} are allowed",
            s.len()
        ));
    }
    let bytes = s.as_bytes();
    if !bytes[0].is_ascii_alphabetic() {
        return Err(format!(
            "the secret reference must start with a letter; {FORM}"
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| !is_ref_byte(b)) {
        return Err(format!(
            "the secret reference has a character that is not allowed at position {}; \
             only letters, digits and _ : . / - are (it is not echoed in case it is a secret)",
            pos + 1
        ));
    }
    Ok(())
}

fn is_ref_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'.' | b'/' | b'-')
}

/// A bare name means `env:NAME`, so that form must fit the pattern too (references print and are
/// compared in their `env:` form).
fn parse_bare_name(name: &str) -> Result<String, String> {
    let canonical_len = "env:".len() + name.len();
    if canonical_len > MAX_REF_LEN {
        return Err(format!(
            "a name without a scheme is read as env:NAME, which would be {canonical_len} characters; \
             at most {MAX_REF_LEN} are allowed"
        ));
    }
    parse_env_name(name)
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
fn parse_env_name(name: &str) -> Result<String, String> {
    let valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.to_string())
    } else {
        Err(
            "an environment variable name is letters, digits and _, not starting with a digit \
             (env:NAME)"
                .to_string(),
        )
    }
}

/// `file:` paths are absolute and have no `..` segment.
fn parse_file_path(path: &str) -> Result<PathBuf, String> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(format!(
            "file:{path} is not an absolute path; write file:/abs/path"
        ));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "file:{path} has a \"..\" segment; write the real absolute path"
        ));
    }
    Ok(p.to_path_buf())
}

/// Longest credential name accepted (systemd allows more; a unit line stays short).
const MAX_CRED_NAME: usize = 64;

/// `cred:` names: `[A-Za-z0-9_-][A-Za-z0-9_.-]*`, at most 64 bytes, so the name is one file name in
/// `$CREDENTIALS_DIRECTORY` and one plain word in a unit's `LoadCredentialEncrypted=`.
fn parse_cred_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_CRED_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(name.to_string())
    } else {
        Err(format!(
            "a systemd credential name is 1..{MAX_CRED_NAME} of letters, digits, _ . - and does not \
             start with '.' (cred:NAME)"
        ))
    }
}

fn parse_raw_literal(literal: &str) -> Result<String, String> {
    if literal.is_empty() {
        Err("raw: needs a literal after the colon (raw:literal, development only)".to_string())
    } else {
        Ok(literal.to_string())
    }
}

/// Secret bytes: `Debug`/`Display` print `[redacted]`, memory is zeroed on drop.
#[derive(Clone)]
pub struct Secret(SecretSlice<u8>);

impl Secret {
    /// Take ownership of `bytes`; the vector's buffer is zeroed even if it had spare capacity.
    pub fn new(mut bytes: Vec<u8>) -> Secret {
        let exact: Box<[u8]> = bytes.as_slice().into();
        bytes.zeroize();
        Secret(SecretSlice::from(exact))
    }

    /// The secret bytes, for keying a MAC. Never format or log them.
    pub fn expose(&self) -> &[u8] {
        self.0.expose_secret()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_schemes_parse_to_their_variants() {
        assert_eq!(
            SecretRef::parse("env:BILLING_CRON_V2").unwrap(),
            SecretRef::Env("BILLING_CRON_V2".into())
        );
        assert_eq!(
            SecretRef::parse("file:/etc/cronix/billing.key").unwrap(),
            SecretRef::File("/etc/cronix/billing.key".into())
        );
        assert_eq!(
            SecretRef::parse("raw:dev-secret").unwrap(),
            SecretRef::Raw("dev-secret".into())
        );
    }

    #[test]
    fn a_bare_name_is_an_environment_variable() {
        assert_eq!(
            SecretRef::parse("BILLING_CRON_V2").unwrap(),
            SecretRef::Env("BILLING_CRON_V2".into())
        );
    }

    #[test]
    fn a_bare_name_must_fit_the_pattern_in_its_env_form() {
        let longest = "A".repeat(MAX_REF_LEN - 4);
        let printed = SecretRef::parse(&longest).unwrap().to_string();
        assert_eq!(SecretRef::parse(&printed), SecretRef::parse(&longest));
        let err = SecretRef::parse(&format!("{longest}B")).unwrap_err();
        assert!(err.contains("read as env:NAME"), "{err}");
    }

    #[test]
    fn an_unknown_scheme_is_named_in_the_error() {
        let err = SecretRef::parse("vault:billing/key").unwrap_err();
        assert!(err.contains("unknown scheme \"vault:\""), "{err}");
    }

    #[test]
    fn file_paths_must_be_absolute_without_parent_segments() {
        assert!(
            SecretRef::parse("file:etc/key")
                .unwrap_err()
                .contains("absolute")
        );
        assert!(
            SecretRef::parse("file:/etc/../root/key")
                .unwrap_err()
                .contains("..")
        );
        assert!(SecretRef::parse("file:/etc/cronix/..").is_err());
        assert!(SecretRef::parse("file:/etc/cronix/a..b").is_ok());
    }

    #[test]
    fn the_pattern_is_enforced() {
        assert!(SecretRef::parse("").is_err());
        assert!(SecretRef::parse("1env:X").is_err());
        assert!(SecretRef::parse("env:A B").is_err());
        assert!(SecretRef::parse(&format!("env:{}", "A".repeat(124))).is_ok());
        assert!(SecretRef::parse(&format!("env:{}", "A".repeat(125))).is_err());
    }

    #[test]
    fn env_names_must_be_variable_names() {
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("env:9LIVES").is_err());
        assert!(SecretRef::parse("env:a.b").is_err());
        assert!(
            SecretRef::parse("_PRIVATE").is_err(),
            "must start with a letter"
        );
        assert!(SecretRef::parse("env:_PRIVATE").is_ok());
    }

    #[test]
    fn parse_errors_never_echo_the_input() {
        for input in [
            "raw:s3cr3t+value",
            "s3cr3t+value=",
            "raw:",
            "9s3cr3tvalue",
            "s3cr3t.value",
        ] {
            let err = SecretRef::parse(input).unwrap_err();
            assert!(!err.contains("s3cr3t"), "{input} leaked into: {err}");
        }
    }

    #[test]
    fn raw_literals_are_redacted_in_debug_and_display() {
        let r = SecretRef::parse("raw:hunter2").unwrap();
        assert!(r.is_raw());
        assert_eq!(format!("{r}"), "raw:[redacted]");
        assert!(!format!("{r:?}").contains("hunter2"));
        assert_eq!(format!("{}", SecretRef::Env("X".into())), "env:X");
    }

    #[test]
    fn secrets_print_redacted_and_expose_their_bytes() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), b"hunter2");
        assert_eq!(s.clone().expose(), b"hunter2");
    }
}
