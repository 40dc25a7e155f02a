//! Per-app scope: which app a manifest source may speak for, and which secret references that app may
//! use (DESIGN §6, §7, §11).
//!
//! The operator declares each app in the config's `manifest_sources: [{app, url, secret_refs}]`. With
//! entries, the app of a source is fixed by `--app` or by the entry whose `url` is the source, and the
//! app may use only its entry's refs. Without entries (a single-app host) the operator refs
//! (`--secret-ref`, else the config's `secret_refs`) are the app's. Pure: the shell says which entry a
//! source matched (it knows the working directory); this module never reads files or the network.

use serde::Deserialize;

use crate::core::manifest::{MAX_SECRET_REFS, is_identifier};
use crate::core::secret::SecretRef;
use crate::core::target_checks::shown_ref;

/// One `manifest_sources` entry of the operator config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSource {
    /// The app this source serves.
    pub app: String,
    /// The source, as given to `--manifest` (path, `file://`, `https://` or loopback `http://`).
    pub url: String,
    /// The references jobs of this app may use; a job without refs gets all of them.
    pub secret_refs: Vec<String>,
}

/// The scope of one reconciler command: the app it must find in the manifest (if fixed) and the refs
/// that app may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The app the manifest must name; `None` on a single-app host without `--app`.
    pub expected_app: Option<String>,
    /// The references the app may use (and a job without refs gets), in signing order.
    pub allowed_refs: Vec<String>,
    /// Where `allowed_refs` come from, for messages ("the manifest_sources entry of app billing").
    pub refs_from: String,
    /// Whether the `env:` refs the app's jobs name are honoured without the operator's word: a
    /// single-app host (no `manifest_sources`), where the operator's environment resolves them at fire
    /// time, as the protocol's secrets page describes. The shell turns it off when the target holds
    /// another app's entries; `file:`, `raw:` and `cred:` refs always need the operator's word.
    pub job_env_refs: bool,
    /// The other apps the target holds entries of, when that is why `job_env_refs` is off (named in
    /// refusals).
    pub other_apps: Vec<String>,
}

/// Where the refs of a single-app host come from, for messages.
pub const OPERATOR_REFS_FROM: &str = "--secret-ref or secret_refs in cronix.yaml";

/// Check the config's entries: app names, one entry per app, a url, 1..=8 valid refs each.
pub fn check_sources(sources: &[ManifestSource]) -> Result<(), String> {
    let mut problems = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let at = format!("manifest_sources[{i}]");
        if !is_identifier(&source.app) {
            problems.push(format!(
                "{at}.app {:?} is not an app name; use lowercase letters, digits and '-', starting \
                 with a letter",
                source.app
            ));
        }
        if let Some(first) = sources[..i].iter().position(|s| s.app == source.app) {
            problems.push(format!(
                "{at}.app {:?} is already declared by manifest_sources[{first}]; keep one entry per app",
                source.app
            ));
        }
        if source.url.trim().is_empty() {
            problems.push(format!(
                "{at}.url is empty; give the source apply reads (a path or an https:// URL)"
            ));
        }
        if source.secret_refs.is_empty() || source.secret_refs.len() > MAX_SECRET_REFS {
            problems.push(format!(
                "{at}.secret_refs has {} references; give 1 to {MAX_SECRET_REFS} (the app's jobs \
                 could never fire without one)",
                source.secret_refs.len()
            ));
        }
        for (j, reference) in source.secret_refs.iter().enumerate() {
            if let Err(why) = SecretRef::parse(reference) {
                problems.push(format!("{at}.secret_refs[{j}]: {why}"));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// What a command was told about the source it reads.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `--app`, when given.
    pub app_flag: Option<&'a str>,
    /// The source as given (for messages; the caller already redacted its query).
    pub shown_source: &'a str,
    /// The index of the `manifest_sources` entry whose `url` is this source, if any.
    pub matched: Option<usize>,
    /// The refs of a single-app host: `--secret-ref`, else the config's `secret_refs`.
    pub operator_refs: &'a [String],
    /// Whether `--secret-ref` was given on the command line.
    pub flag_refs: bool,
    /// Whether a source with no entry (and no `--app`) is refused; `validate` only lints, so for it
    /// such a source is read with the operator refs and may name any app.
    pub require_declared: bool,
}

/// Fix the scope of a command. With `manifest_sources`, `--app` picks the entry (it must exist), else
/// the entry the source matched (one must); `--secret-ref` is refused there (refs come from entries).
pub fn resolve(sources: &[ManifestSource], request: &Request) -> Result<Scope, String> {
    if let Some(app) = request.app_flag
        && !is_identifier(app)
    {
        return Err(format!(
            "--app {app:?} is not an app name; use lowercase letters, digits and '-', starting with \
             a letter"
        ));
    }
    if sources.is_empty() {
        return Ok(Scope {
            expected_app: request.app_flag.map(str::to_string),
            allowed_refs: request.operator_refs.to_vec(),
            refs_from: OPERATOR_REFS_FROM.to_string(),
            job_env_refs: true,
            other_apps: Vec::new(),
        });
    }
    let undeclared = request.app_flag.is_none() && request.matched.is_none();
    if undeclared && !request.require_declared {
        return Ok(Scope {
            expected_app: None,
            allowed_refs: request.operator_refs.to_vec(),
            refs_from: OPERATOR_REFS_FROM.to_string(),
            job_env_refs: false,
            other_apps: Vec::new(),
        });
    }
    if request.flag_refs {
        return Err(
            "--secret-ref cannot be combined with manifest_sources in the config: each app's refs \
             come from its manifest_sources entry; remove --secret-ref or edit the entry"
                .to_string(),
        );
    }
    let entry = match request.app_flag {
        Some(app) => sources.iter().find(|s| s.app == app).ok_or_else(|| {
            format!(
                "--app {app}: no manifest_sources entry declares app {app}; add {{app: {app}, url, \
                 secret_refs}} to cronix.yaml"
            )
        })?,
        None => request
            .matched
            .and_then(|i| sources.get(i))
            .ok_or_else(|| {
                format!(
                    "manifest {}: no manifest_sources entry has this url, so the app it may speak \
                     for is unknown; add an entry {{app, url, secret_refs}} to cronix.yaml or pass \
                     --app APP",
                    request.shown_source
                )
            })?,
    };
    Ok(Scope {
        expected_app: Some(entry.app.clone()),
        allowed_refs: entry.secret_refs.clone(),
        refs_from: format!("the manifest_sources entry of app {}", entry.app),
        job_env_refs: false,
        other_apps: Vec::new(),
    })
}

/// A manifest naming an app other than the one fixed for its source is refused.
pub fn check_app(scope: &Scope, manifest_app: &str, shown_source: &str) -> Result<(), String> {
    match &scope.expected_app {
        Some(expected) if expected != manifest_app => Err(format!(
            "manifest {shown_source} names app {manifest_app:?}, but this source may speak only for \
             app {expected:?} (fixed by --app or its manifest_sources entry); nothing was changed. \
             If the source moved, fix manifest_sources or --app"
        )),
        _ => Ok(()),
    }
}

/// The refs the shim accepts in a spec of `app`: `Some(entry refs)` with `manifest_sources`, an error
/// when the app is not declared there, `None` on a single-app host (apply's `--secret-ref` flags are
/// not recorded anywhere the shim can trust, so there is nothing to compare with).
pub fn shim_allowed_refs<'a>(
    sources: &'a [ManifestSource],
    app: &str,
) -> Result<Option<&'a [String]>, String> {
    if sources.is_empty() {
        return Ok(None);
    }
    sources
        .iter()
        .find(|s| s.app == app)
        .map(|s| Some(s.secret_refs.as_slice()))
        .ok_or_else(|| {
            format!(
                "app {app} is not declared in manifest_sources of the config; add its entry and \
                 re-run `cronix apply`"
            )
        })
}

/// The references of `refs` that are not in `allowed` (compared as parsed: `NAME` is `env:NAME`), in
/// their printable form (a `raw:` value is never shown).
pub fn refs_not_allowed(refs: &[String], allowed: &[String]) -> Vec<String> {
    let allowed: Vec<SecretRef> = allowed
        .iter()
        .filter_map(|r| SecretRef::parse(r).ok())
        .collect();
    refs.iter()
        .filter(|r| !SecretRef::parse(r).is_ok_and(|parsed| allowed.contains(&parsed)))
        .map(|r| shown_ref(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(app: &str, url: &str, refs: &[&str]) -> ManifestSource {
        ManifestSource {
            app: app.into(),
            url: url.into(),
            secret_refs: refs.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn request<'a>(app: Option<&'a str>, matched: Option<usize>) -> Request<'a> {
        Request {
            app_flag: app,
            shown_source: "src",
            matched,
            operator_refs: &[],
            flag_refs: false,
            require_declared: true,
        }
    }

    #[test]
    fn a_single_app_host_uses_the_operator_refs() {
        let refs = vec!["env:A".to_string()];
        let scope = resolve(
            &[],
            &Request {
                operator_refs: &refs,
                ..request(None, None)
            },
        )
        .unwrap();
        assert_eq!(scope.expected_app, None);
        assert_eq!(scope.allowed_refs, refs);
    }

    #[test]
    fn the_matched_entry_fixes_the_app_and_its_refs() {
        let sources = [
            entry("billing", "b", &["env:B"]),
            entry("reports", "r", &["env:R"]),
        ];
        let scope = resolve(&sources, &request(None, Some(1))).unwrap();
        assert_eq!(scope.expected_app.as_deref(), Some("reports"));
        assert_eq!(scope.allowed_refs, ["env:R"]);
        assert!(check_app(&scope, "billing", "src").is_err());
        assert!(check_app(&scope, "reports", "src").is_ok());
    }

    #[test]
    fn app_flag_wins_and_must_be_declared() {
        let sources = [entry("billing", "b", &["env:B"])];
        let scope = resolve(&sources, &request(Some("billing"), None)).unwrap();
        assert_eq!(scope.allowed_refs, ["env:B"]);
        assert!(
            resolve(&sources, &request(Some("reports"), None))
                .unwrap_err()
                .contains("no manifest_sources entry declares app reports")
        );
    }

    #[test]
    fn an_undeclared_source_is_refused_with_manifest_sources() {
        let sources = [entry("billing", "b", &["env:B"])];
        let err = resolve(&sources, &request(None, None)).unwrap_err();
        assert!(err.contains("--app APP"), "{err}");
        let lenient = Request {
            require_declared: false,
            ..request(None, None)
        };
        assert_eq!(resolve(&sources, &lenient).unwrap().expected_app, None);
    }

    #[test]
    fn flag_refs_are_refused_with_manifest_sources() {
        let sources = [entry("billing", "b", &["env:B"])];
        let req = Request {
            flag_refs: true,
            ..request(Some("billing"), None)
        };
        assert!(
            resolve(&sources, &req)
                .unwrap_err()
                .contains("--secret-ref")
        );
    }

    #[test]
    fn sources_are_checked() {
        assert!(check_sources(&[entry("billing", "b", &["env:B"])]).is_ok());
        let err = check_sources(&[entry("Billing", "", &[]), entry("Billing", "x", &["raw:"])])
            .unwrap_err();
        for part in [
            "not an app name",
            "already declared",
            "url is empty",
            "0 references",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }

    #[test]
    fn refs_compare_as_parsed_and_raw_values_stay_hidden() {
        let allowed = vec!["env:A".to_string()];
        assert!(refs_not_allowed(&["A".into()], &allowed).is_empty());
        assert_eq!(
            refs_not_allowed(&["raw:hunter2".into()], &allowed),
            ["raw:[redacted]"]
        );
    }

    #[test]
    fn the_shim_checks_only_declared_apps() {
        assert_eq!(shim_allowed_refs(&[], "a"), Ok(None));
        let sources = [entry("billing", "b", &["env:B"])];
        assert!(shim_allowed_refs(&sources, "reports").is_err());
        assert_eq!(
            shim_allowed_refs(&sources, "billing").unwrap().unwrap(),
            ["env:B"]
        );
    }
}
