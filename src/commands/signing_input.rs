//! What `sign` and `verify` both read: the operator's secrets (flags, else config) and the body.
//!
//! Thin glue over `shell::config` and `shell::secrets`. Must not print secret bytes: warnings name
//! references in their redacted form only.

use std::io::Read;
use std::path::Path;

use crate::error::Failure;
use crate::settings::Global;
use crate::shell::config;
use crate::shell::secrets::{self, Resolved};

/// The references in force and what they resolved to.
pub struct OperatorSecrets {
    /// `--secret-ref` flags when given, else the config's `secret_refs`.
    pub refs: Vec<String>,
    pub resolved: Resolved,
}

impl OperatorSecrets {
    /// The printable (redacted) reference a resolved secret came from.
    pub fn describe(&self, secret_index: usize) -> String {
        let origin = self.resolved.origins.get(secret_index).copied();
        origin
            .and_then(|i| self.refs.get(i))
            .and_then(|text| crate::core::secret::SecretRef::parse(text).ok())
            .map(|r| r.to_string())
            .unwrap_or_default()
    }

    /// The index among `refs` of the resolved secret at `secret_index`.
    pub fn ref_index(&self, secret_index: usize) -> usize {
        self.resolved
            .origins
            .get(secret_index)
            .copied()
            .unwrap_or(secret_index)
    }
}

/// Load the operator config, pick the references (flags win), resolve them through the config's
/// `env_file`, and warn on stderr about references that resolved empty.
pub fn operator_secrets(global: &Global) -> Result<OperatorSecrets, Failure> {
    let loaded = config::load(global.config.as_deref())?;
    let refs = loaded.config.operator_secret_refs(&global.secret_refs);
    if refs.is_empty() {
        return Err(Failure::invalid(
            "no secret reference given; pass --secret-ref env:NAME (or file:/abs/path), \
             or list secret_refs in the operator config",
        ));
    }
    let resolved =
        secrets::resolve(&refs, loaded.config.env_file.as_deref()).map_err(Failure::invalid)?;
    warn_all(&resolved);
    if resolved.secrets.is_empty() {
        return Err(Failure::invalid(
            "every secret reference resolved to an empty value; set at least one of them",
        ));
    }
    Ok(OperatorSecrets { refs, resolved })
}

fn warn_all(resolved: &Resolved) {
    use std::io::Write;
    let mut stderr = anstream::stderr();
    let style = anstyle::Style::new()
        .bold()
        .fg_color(Some(anstyle::AnsiColor::Yellow.into()));
    for skipped in &resolved.skipped {
        let _ = writeln!(
            stderr,
            "{style}cronix: warning:{style:#} secret {}; skipped",
            crate::core::escape::terminal(&skipped.describe())
        );
    }
    for warning in &resolved.warnings {
        let warning = crate::core::escape::terminal(warning);
        let _ = writeln!(stderr, "{style}cronix: warning:{style:#} {warning}");
    }
}

/// Largest `--body-file` read, in bytes: the manifest's limit on a request body (1 MiB), so `sign`
/// and `verify` take any body a job can send and nothing that would exhaust memory (`/dev/zero`).
pub const MAX_BODY_FILE_BYTES: usize = crate::core::manifest::MAX_BODY_BYTES;

/// The request body: the file's bytes, standard input for `-`, or empty when no file is given; more
/// than `MAX_BODY_FILE_BYTES` is refused (never cut), naming the file and the cap.
pub fn read_body(path: Option<&Path>) -> Result<Vec<u8>, Failure> {
    match path {
        None => Ok(Vec::new()),
        Some(p) if p == Path::new("-") => {
            read_capped(std::io::stdin().lock(), "- (standard input)")
        }
        Some(p) => {
            let file = std::fs::File::open(p).map_err(|e| {
                Failure::invalid(format!(
                    "--body-file {}: cannot read it ({e}); give a readable file, or - for standard input",
                    p.display()
                ))
            })?;
            read_capped(file, &p.display().to_string())
        }
    }
}

fn read_capped(reader: impl Read, shown: &str) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    reader
        .take(MAX_BODY_FILE_BYTES as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| Failure::invalid(format!("--body-file {shown}: cannot read it ({e})")))?;
    if body.len() > MAX_BODY_FILE_BYTES {
        return Err(Failure::invalid(format!(
            "--body-file {shown}: larger than {MAX_BODY_FILE_BYTES} bytes (1 MiB, the largest \
             request body a job can send); refused, nothing was signed or checked"
        )));
    }
    Ok(body)
}

/// The current unix time in seconds.
pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
