//! The shim's re-check of a spec before it signs: the rules apply used, run again on what the spec
//! says now (a spec may have been edited by hand since apply wrote it).
//!
//! One implementation of every rule: the job goes through `manifest::check_job` (URL scheme, host,
//! link-local addresses, headers, schedules, policy), plain `http://` through
//! `target_checks::check_plain_http`, and the refs through `scope`. Pure: the caller passes the
//! config's settings and a tz lookup. Messages never show a `raw:` value. A spec the reference tool
//! wrote goes through the same rules (it was read as the spec cronix's apply would write).

use crate::core::manifest;
use crate::core::scope;
use crate::core::spec::{JobSpec, SpecOrigin};
use crate::core::target_checks;

/// What the operator config allows, as the shim sees it.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub allow_http_hosts: &'a [String],
    /// The refs the spec's app may use; `None` on a single-app host (nothing to compare with).
    pub allowed_refs: Option<&'a [String]>,
}

/// Every reason apply would refuse this spec's job now; empty when it would not.
pub fn problems(spec: &JobSpec, rules: &Rules, zone_exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    let job = &spec.job;
    let mut out: Vec<String> = manifest::check_job(&spec.app, job, zone_exists)
        .into_iter()
        .map(|issue| {
            let at = issue.path.strip_prefix("jobs/0/").unwrap_or(&issue.path);
            format!("job/{at}: {}", issue.message)
        })
        .collect();
    if let Err(e) =
        target_checks::check_plain_http(&job.name, &job.request.url, rules.allow_http_hosts)
    {
        out.push(e);
    }
    out.extend(ref_problems(spec, rules.allowed_refs));
    out
}

/// The refs the shim would sign with: each must be allowed for the app, and when the job names its
/// own refs the spec must sign with exactly those (apply's rule).
fn ref_problems(spec: &JobSpec, allowed: Option<&[String]>) -> Vec<String> {
    let own = &spec.job.auth.secret_refs;
    let mut out = Vec::new();
    if spec.secret_refs.is_empty() && spec.origin == SpecOrigin::Reference {
        out.push(
            "the reference tool wrote it without --secret-ref and the job names no \
             auth.secret_refs, so there is nothing to sign with; run `cronix apply --secret-ref REF`"
                .to_string(),
        );
    } else if spec.secret_refs.is_empty() {
        out.push("secret_refs is empty; apply never writes a spec without refs".to_string());
    }
    if !own.is_empty() && &spec.secret_refs != own {
        out.push(
            "secret_refs differ from the job's own auth.secret_refs, which apply copies unchanged"
                .to_string(),
        );
    }
    if let Some(allowed) = allowed {
        let mut refused = scope::refs_not_allowed(&spec.secret_refs, allowed);
        for extra in scope::refs_not_allowed(own, allowed) {
            if !refused.contains(&extra) {
                refused.push(extra);
            }
        }
        out.extend(refused.into_iter().map(|shown| {
            format!(
                "secret reference {shown} is not allowed for app {} by manifest_sources in the config",
                spec.app
            )
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, refs: &[&str]) -> JobSpec {
        let refs: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
        serde_json::from_value(serde_json::json!({
            "format": 2, "app": "billing",
            "job": {"name": "settle", "schedules": ["0 2 * * *"], "timezone": "UTC",
                    "request": {"method": "POST", "url": url, "headers": {}, "body": ""},
                    "policy": {"concurrency": "Forbid", "concurrency_scope": "host",
                               "timeout_seconds": 5,
                               "retries": {"max_attempts": 1, "min_seconds": 0, "max_seconds": 1}},
                    "auth": {"secret_refs": []}},
            "secret_refs": refs, "lock_dir": "/l", "state_dir": "/s"
        }))
        .unwrap()
    }

    fn check(spec: &JobSpec, allowed: Option<&[String]>) -> Vec<String> {
        problems(
            spec,
            &Rules {
                allow_http_hosts: &[],
                allowed_refs: allowed,
            },
            &|z| z == "UTC",
        )
    }

    #[test]
    fn a_spec_apply_wrote_passes() {
        let allowed = vec!["env:B".to_string()];
        assert!(check(&spec("https://b.example/x", &["env:B"]), Some(&allowed)).is_empty());
        assert!(check(&spec("http://127.0.0.1:9/x", &["env:B"]), None).is_empty());
    }

    #[test]
    fn hosts_headers_and_refs_apply_would_refuse_are_found() {
        let allowed = vec!["env:B".to_string()];
        let found = check(&spec("http://evil.example/x", &["env:R"]), Some(&allowed));
        assert!(
            found.iter().any(|p| p.contains("allow_http_hosts")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|p| p.contains("env:R is not allowed")),
            "{found:?}"
        );
        let found = check(&spec("https://169.254.169.254/x", &["env:B"]), None);
        assert!(found[0].starts_with("job/request/url:"), "{found:?}");
        let mut with_header = spec("https://b.example/x", &["env:B"]);
        with_header
            .job
            .request
            .headers
            .insert("Authorization".into(), "Bearer x".into());
        let found = check(&with_header, None);
        assert!(found[0].contains("carries credentials"), "{found:?}");
    }
}
