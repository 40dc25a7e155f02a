//! Resolving secret references to bytes: the operator's env file, then the process environment,
//! protected files, systemd credentials (`cred:`) and `raw:` literals.
//!
//! Returns secrets, the references that resolved empty and warnings (as data: the caller decides how
//! to warn). The protocol's empty-secrets rule: an unset variable, a missing `file:` file and an
//! empty value are all skipped (a `cred:` missing from `$CREDENTIALS_DIRECTORY` too); a file that
//! exists but fails the ownership/mode checks is an error, and so is a `cred:` outside a systemd fire.
//! Must not print, log, or put a secret or a `raw:` literal into an error: errors name the
//! reference in its redacted form and say how to fix it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::core::secret::{Secret, SecretRef};
use crate::shell::trusted_path;

pub use crate::shell::env_file::load_env_file;

/// Largest `file:` secret accepted.
pub const MAX_SECRET_FILE_LEN: u64 = 64 * 1024;

/// The outcome of resolving a list of references.
#[derive(Debug, Default)]
pub struct Resolved {
    /// Non-empty secrets, in the order of their references.
    pub secrets: Vec<Secret>,
    /// References that resolved to nothing and were skipped.
    pub skipped: Vec<Skipped>,
    /// For each entry of `secrets`, the index in the given `refs` it came from (skips shift it).
    pub origins: Vec<usize>,
    /// Things to fix that did not stop the resolution (a world-readable secret or env file).
    pub warnings: Vec<String>,
}

/// A reference that resolved to nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The printable (redacted) form, e.g. `env:BILLING_CRON_V1`.
    pub reference: String,
    pub why: Empty,
}

/// Why a reference resolved to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Empty {
    /// The variable is not set (in the env file or the environment).
    Unset,
    /// The `file:` file does not exist.
    Missing,
    /// The value is empty (a file: whitespace only).
    Blank,
}

impl Skipped {
    /// `env:X is not set` / `file:/k does not exist` / `env:X resolved to an empty value`.
    pub fn describe(&self) -> String {
        let why = match self.why {
            Empty::Unset => "is not set",
            Empty::Missing => "does not exist",
            Empty::Blank => "resolved to an empty value",
        };
        format!("{} {why}", self.reference)
    }
}

/// Resolve `refs` in order. `env:` names are looked up in `env_file` (when given) before the
/// process environment. A reference that cannot be parsed or read is an error naming it; one that
/// resolves to an empty value is skipped and listed in `skipped`.
pub fn resolve(refs: &[String], env_file: Option<&Path>) -> Result<Resolved, String> {
    let mut warnings = Vec::new();
    let env_vars = match env_file {
        Some(path) => {
            let vars = load_env_file(path)?;
            warnings.extend(world_readable_warning("env file", path));
            vars
        }
        None => BTreeMap::new(),
    };
    let lookup = |name: &str| env_vars.get(name).cloned().or_else(|| process_env(name));
    let mut resolved = resolve_with(refs, &lookup)?;
    warnings.append(&mut resolved.warnings);
    resolved.warnings = warnings;
    Ok(resolved)
}

/// What a job's refs would give when the scheduler fires it: cron and systemd hand a fire none of
/// this shell's variables, so an `env:` ref resolves only from the env file; `file:` refs as the shim
/// reads them; `cred:` refs only inside a systemd fire (not checked here). `None` when at least one
/// ref gives a secret (or a `cred:` ref may), else the printable reasons, one per ref.
/// `scheduler_env` names what the scheduler itself sets for every fire (a crontab's `NAME=value`).
pub fn fire_time_gaps(
    refs: &[String],
    env_file: Option<&Path>,
    scheduler_env: &std::collections::BTreeSet<String>,
) -> Option<Vec<String>> {
    if refs
        .iter()
        .any(|r| matches!(SecretRef::parse(r), Ok(SecretRef::Cred(_))))
    {
        return None;
    }
    let env_vars = match env_file {
        Some(path) => match load_env_file(path) {
            Ok(vars) => vars,
            Err(why) => return Some(vec![why]),
        },
        None => BTreeMap::new(),
    };
    let lookup = |name: &str| {
        env_vars.get(name).cloned().or_else(|| {
            scheduler_env
                .contains(name)
                .then(|| Secret::new(b"set by the scheduler".to_vec()))
        })
    };
    match resolve_with(refs, &lookup) {
        Ok(resolved) if !resolved.secrets.is_empty() => None,
        Ok(resolved) => Some(resolved.skipped.iter().map(Skipped::describe).collect()),
        Err(why) => Some(vec![why]),
    }
}

/// `resolve` with an explicit environment lookup (tests pass a map instead of the process env).
pub fn resolve_with(
    refs: &[String],
    lookup_env: &dyn Fn(&str) -> Option<Secret>,
) -> Result<Resolved, String> {
    let mut out = Resolved::default();
    for (index, text) in refs.iter().enumerate() {
        let reference = SecretRef::parse(text)
            .map_err(|why| format!("secret reference #{}: {why}", index + 1))?;
        match resolve_one(&reference, lookup_env, &mut out.warnings)? {
            Ok(secret) if !secret.is_empty() => {
                out.secrets.push(secret);
                out.origins.push(index);
            }
            Ok(_) => out.skipped.push(Skipped {
                reference: reference.to_string(),
                why: Empty::Blank,
            }),
            Err(why) => out.skipped.push(Skipped {
                reference: reference.to_string(),
                why,
            }),
        }
    }
    Ok(out)
}

/// One reference: `Ok(Ok(secret))`, `Ok(Err(why))` when it resolved to nothing, `Err` when it is
/// broken (a file that fails the checks).
fn resolve_one(
    reference: &SecretRef,
    lookup_env: &dyn Fn(&str) -> Option<Secret>,
    warnings: &mut Vec<String>,
) -> Result<Result<Secret, Empty>, String> {
    match reference {
        SecretRef::Env(name) => Ok(lookup_env(name).ok_or(Empty::Unset)),
        SecretRef::File(path) => {
            if is_missing(path) {
                return Ok(Err(Empty::Missing));
            }
            let secret =
                read_secret_file(path).map_err(|why| format!("secret {reference} {why}"))?;
            warnings.extend(world_readable_warning("secret file", path));
            Ok(Ok(secret))
        }
        SecretRef::Raw(literal) => Ok(Ok(Secret::new(literal.as_bytes().to_vec()))),
        SecretRef::Cred(name) => {
            let dir = credentials_dir().map_err(|why| format!("secret {reference} {why}"))?;
            // Walked from `/`: the directory comes from the environment (systemd's
            // /run/credentials/UNIT on a fire), which `sudo -E` would hand root from a user.
            let path = dir.join(name);
            match trusted_path::read_walked_if_exists(&path, MAX_SECRET_FILE_LEN) {
                Ok(Some(contents)) => Ok(Ok(Secret::new(contents.trim_ascii().to_vec()))),
                Ok(None) => Ok(Err(Empty::Missing)),
                Err(why) => Err(format!("secret {reference} {why}")),
            }
        }
    }
}

/// Where a `cred:` secret is: `$CREDENTIALS_DIRECTORY`, which systemd fills (decrypted) for the
/// fire's service from its `LoadCredentialEncrypted=` lines. Unset is an error, not an empty
/// resolution: the reference cannot work in this process at all.
fn credentials_dir() -> Result<std::path::PathBuf, String> {
    crate::env::credentials_directory().ok_or_else(|| {
        "cannot be read: $CREDENTIALS_DIRECTORY is not set; cred: references work only in a \
             fire started by a systemd-timer unit that cronix apply wrote"
            .to_string()
    })
}

/// Whether nothing at all is at `path` (a dangling symlink is something: the read refuses it).
fn is_missing(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// A warning when a file holding secrets can be read by every user.
fn world_readable_warning(what: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let mode = std::fs::symlink_metadata(path).ok()?.mode() & 0o7777;
    (mode & 0o004 != 0).then(|| {
        format!(
            "{what} {} is readable by every user (mode {mode:04o}); run chmod o-r on it (0600 is best)",
            path.display()
        )
    })
}

fn process_env(name: &str) -> Option<Secret> {
    crate::env::secret_ref_var(name).map(|value: OsString| Secret::new(value.into_vec()))
}

/// A `file:` secret: the protected file's contents with surrounding whitespace trimmed.
fn read_secret_file(path: &Path) -> Result<Secret, String> {
    let contents = trusted_path::read(path, MAX_SECRET_FILE_LEN)?;
    Ok(Secret::new(contents.trim_ascii().to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<Secret> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Secret::new(v.as_bytes().to_vec()))
        }
    }

    fn refs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn env_bare_and_raw_references_resolve_in_order() {
        let env = env_of(&[("A", "alpha"), ("B", "beta")]);
        let got = resolve_with(&refs(&["env:A", "B", "raw:gamma"]), &env).unwrap();
        let bytes: Vec<&[u8]> = got.secrets.iter().map(Secret::expose).collect();
        assert_eq!(bytes, [&b"alpha"[..], b"beta", b"gamma"]);
        assert_eq!(got.origins, [0, 1, 2]);
        assert!(got.skipped.is_empty());
    }

    #[test]
    fn empty_values_are_skipped_and_reported() {
        let env = env_of(&[("OLD", ""), ("NEW", "n")]);
        let got = resolve_with(&refs(&["env:OLD", "env:NEW"]), &env).unwrap();
        assert_eq!(
            got.skipped[0].describe(),
            "env:OLD resolved to an empty value"
        );
        assert_eq!(got.secrets.len(), 1);
        assert_eq!(got.origins, [1]);
    }

    #[test]
    fn an_unset_variable_and_a_missing_file_are_skipped_like_empty_values() {
        let refs = refs(&["env:MISSING", "file:/nonexistent/cronix/key", "env:NEW"]);
        let got = resolve_with(&refs, &env_of(&[("NEW", "n")])).unwrap();
        let described: Vec<String> = got.skipped.iter().map(Skipped::describe).collect();
        assert_eq!(
            described,
            [
                "env:MISSING is not set",
                "file:/nonexistent/cronix/key does not exist"
            ]
        );
        assert_eq!(got.origins, [2]);
    }

    #[test]
    fn a_world_readable_secret_file_is_read_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, b"s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let got = resolve(&[format!("file:{}", path.display())], None).unwrap();
        assert_eq!(got.secrets[0].expose(), b"s3cret");
        assert!(
            got.warnings[0].contains("readable by every user"),
            "{:?}",
            got.warnings
        );
        assert!(!got.warnings[0].contains("s3cret"));
    }

    #[test]
    fn a_bad_reference_is_named_by_position() {
        let err =
            resolve_with(&refs(&["env:A", "raw:has space"]), &env_of(&[("A", "a")])).unwrap_err();
        assert!(err.starts_with("secret reference #2:"), "{err}");
        assert!(!err.contains("has space"), "{err}");
    }

    #[test]
    fn file_secrets_are_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, b"  s3cret \n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let got = resolve(&[format!("file:{}", path.display())], None).unwrap();
        assert_eq!(got.secrets[0].expose(), b"s3cret");
    }

    #[test]
    fn a_whitespace_only_file_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, b" \n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let reference = format!("file:{}", path.display());
        let got = resolve(std::slice::from_ref(&reference), None).unwrap();
        assert_eq!(got.skipped[0].reference, reference);
    }

    #[test]
    fn the_env_file_is_consulted_before_the_process_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronix.env");
        std::fs::write(&path, b"PATH=from-env-file\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let got = resolve(&refs(&["env:PATH"]), Some(&path)).unwrap();
        assert_eq!(got.secrets[0].expose(), b"from-env-file");
    }

    #[test]
    fn a_writable_secret_file_is_refused_with_the_reference_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, b"s3cret").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = resolve(&[format!("file:{}", path.display())], None).unwrap_err();
        assert!(
            err.contains(&format!("secret file:{} is writable", path.display())),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }
}
