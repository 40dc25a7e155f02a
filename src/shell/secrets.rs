//! Resolving secret references to bytes: the operator's env file, then the process environment,
//! protected files, and `raw:` literals.
//!
//! Returns secrets and the references that resolved empty (as data: the caller decides how to warn).
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
    /// References that resolved to an empty value and were skipped, in their printable
    /// (redacted) form, e.g. `env:BILLING_CRON_V1`.
    pub skipped: Vec<String>,
    /// For each entry of `secrets`, the index in the given `refs` it came from (skips shift it).
    pub origins: Vec<usize>,
}

/// Resolve `refs` in order. `env:` names are looked up in `env_file` (when given) before the
/// process environment. A reference that cannot be parsed or read is an error naming it; one that
/// resolves to an empty value is skipped and listed in `skipped`.
pub fn resolve(refs: &[String], env_file: Option<&Path>) -> Result<Resolved, String> {
    let env_vars = match env_file {
        Some(path) => load_env_file(path)?,
        None => BTreeMap::new(),
    };
    let lookup = |name: &str| env_vars.get(name).cloned().or_else(|| process_env(name));
    resolve_with(refs, &lookup)
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
        let secret = resolve_one(&reference, lookup_env)?;
        if secret.is_empty() {
            out.skipped.push(reference.to_string());
        } else {
            out.secrets.push(secret);
            out.origins.push(index);
        }
    }
    Ok(out)
}

fn resolve_one(
    reference: &SecretRef,
    lookup_env: &dyn Fn(&str) -> Option<Secret>,
) -> Result<Secret, String> {
    match reference {
        SecretRef::Env(name) => lookup_env(name).ok_or_else(|| {
            format!(
                "secret {reference}: the environment variable {name} is not set; export it, or add \
                 {name}=... to the env_file named in the operator config (cron starts jobs with an \
                 almost empty environment)"
            )
        }),
        SecretRef::File(path) => {
            read_secret_file(path).map_err(|why| format!("secret {reference} {why}"))
        }
        SecretRef::Raw(literal) => Ok(Secret::new(literal.as_bytes().to_vec())),
    }
}

fn process_env(name: &str) -> Option<Secret> {
    std::env::var_os(name).map(|value: OsString| Secret::new(value.into_vec()))
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
        assert_eq!(got.skipped, ["env:OLD"]);
        assert_eq!(got.secrets.len(), 1);
        assert_eq!(got.origins, [1]);
    }

    #[test]
    fn an_unset_variable_is_an_error_naming_the_reference() {
        let err = resolve_with(&refs(&["env:MISSING"]), &env_of(&[])).unwrap_err();
        assert!(
            err.starts_with("secret env:MISSING: the environment variable MISSING is not set"),
            "{err}"
        );
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
        assert_eq!(got.skipped, [reference]);
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
