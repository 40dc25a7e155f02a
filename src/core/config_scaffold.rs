//! The commented `cronix.yaml` that `cronix init` writes: every key the config takes, the defaults in
//! comments, and the operator's app, manifest URL and secret references filled in.
//!
//! Pure: checked values in, YAML text out. Every value is written as a JSON string (valid YAML), so
//! no input can add a key or a line. It must not know where the file goes.

use crate::core::manifest::{is_identifier, is_secret_ref_syntax};

/// What the operator gave `init`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scaffold {
    /// The app whose manifest this host reconciles, with its manifest URL.
    pub source: Option<(String, String)>,
    pub secret_refs: Vec<String>,
}

impl Scaffold {
    /// Check what goes into the file; one message per bad value.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        if let Some((app, url)) = &self.source {
            if !is_identifier(app) {
                errors.push(format!(
                    "--app {app:?}: an app name is lowercase letters, digits and dashes, starting \
                     with a letter"
                ));
            }
            if !(url.starts_with("https://")
                || url.starts_with("http://")
                || url.starts_with("file://"))
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                errors.push(format!(
                    "--manifest-url {url:?}: give an https:// (or loopback http://, file://) URL \
                     without spaces"
                ));
            }
        }
        for r in &self.secret_refs {
            if !is_secret_ref_syntax(r) {
                errors.push(format!(
                    "--secret-ref {r:?}: a reference is <scheme>:<value>, e.g. env:CRON_SECRET or \
                     file:/etc/cronix/secret"
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::from(HEAD);
        out.push_str(&self.secret_refs_block());
        out.push_str(&self.sources_block());
        out.push_str(TAIL);
        out
    }

    fn secret_refs_block(&self) -> String {
        let mut out = String::from(
            "\n# Secret references the operator allows on a single-app host (--secret-ref flags replace\n\
             # them for one command). They sign HTTPS manifest fetches, jobs without their own refs get\n\
             # these, and file:/raw: refs a job names must be among them (env: refs a job names need\n\
             # not be while this host serves one app). References only, never secret bytes:\n\
             # env:NAME, file:/abs/path (raw:literal is for development).\n",
        );
        if self.secret_refs.is_empty() {
            out.push_str("secret_refs: []\n#  - env:CRON_SECRET\n");
        } else {
            out.push_str("secret_refs:\n");
            for r in &self.secret_refs {
                out.push_str(&format!("  - {}\n", quoted(r)));
            }
        }
        out
    }

    /// `manifest_sources`, commented out: with an entry, each app may use only its entry's refs and
    /// `--secret-ref` is refused, which a first config should not impose unasked.
    fn sources_block(&self) -> String {
        let mut out = String::from(
            "\n# The apps this host reconciles, for a host that serves several. With entries, --manifest\n\
             # must be an entry's url (or give --app), the app may use only its entry's secret_refs, and\n\
             # --secret-ref is refused. Uncomment to use:\n",
        );
        let (app, url) = match &self.source {
            Some((app, url)) => (quoted(app), quoted(url)),
            None => (
                "billing".to_string(),
                "https://billing.example.com/.well-known/cron-manifest".to_string(),
            ),
        };
        out.push_str(&format!(
            "# manifest_sources:\n#   - app: {app}\n#     url: {url}\n"
        ));
        if !self.secret_refs.is_empty() {
            out.push_str("#     secret_refs:\n");
            for r in &self.secret_refs {
                out.push_str(&format!("#       - {}\n", quoted(r)));
            }
        }
        out
    }
}

/// A value as a YAML double-quoted scalar (a JSON string).
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "\"\"".to_string())
}

const HEAD: &str = "\
# cronix operator configuration.
# Found at --config, $CRONIX_CONFIG, ~/.cronix/cronix.yaml, /etc/cronix/cronix.yaml (the first that
# exists). Unknown keys are errors. Command-line flags win over every key here. The file must be
# owned by root or the user running cronix and not writable by group or others.
version: 1
";

const TAIL: &str = "
# Where entries go: a system crontab file (with a user column) or, with crontab_format: user, a
# file without one.
# crontab_path: /etc/cron.d/cronix
# crontab_format: system
# run_as: root

# The cronix binary cron runs (default: the binary that ran apply).
# trigger_bin: /usr/local/bin/cronix

# Spec files, lock files, run history and the apply audit.
# spec_dir: /etc/cronix/jobs
# lock_dir: /run/cronix
# state_dir: /var/lib/cronix
# Spec files hold each job's URL, headers and body: readable by their owner only unless you say
# \"0640\" (their group too) or \"0644\" (everyone).
# spec_mode: \"0600\"

# NAME=value lines the shim loads before resolving env: references (cron's environment is bare).
# env_file: /etc/cronix/env

# Log level of the JSON log lines: error, warn, info or debug.
# log_level: warn

# Hosts allowed over plain http:// besides loopback (a signed request over plain HTTP can be read).
allow_http_hosts: []

# Proxy for HTTP peers other than loopback (the HTTP_PROXY/HTTPS_PROXY variables are ignored).
# http_proxy: http://proxy.internal:3128

# CA bundle trusted for https:// peers instead of the system's (SSL_CERT_FILE is ignored).
# tls_ca_file: /etc/cronix/ca.pem

# Run history kept per job.
history:
  max_runs: 1000
  max_age_days: 90

# The Redis that concurrency_scope: global jobs claim instants and take leases in (docs/fleet.md).
# The password goes only over TLS (rediss:// or tls: true, the server's certificate verified against
# ca_file or /etc/ssl/certs/ca-certificates.crt), a unix:///path socket, or to a loopback address.
# A Redis without a password is refused for global scope: any of its clients could silence the jobs.
# locks:
#   redis:
#     addr: rediss://redis.internal:6380
#     ca_file: /etc/cronix/redis-ca.pem
#     password_ref: file:/etc/cronix/redis.pass
#     on_unavailable: fail
#     timeout_ms: 1000
#     allow_unauthenticated: false

# Traces of `cronix trigger --otel` fires, over OTLP/HTTP (docs/traces.md); header values are secret
# references. render_in_entries: true makes apply write --otel on every entry.
# otel:
#   endpoint: http://127.0.0.1:4318
#   headers:
#     Authorization: env:OTEL_AUTHORIZATION
#   service_name: cronix
#   timeout_ms: 2000
#   render_in_entries: false
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_so_nothing_adds_a_line() {
        let s = Scaffold {
            source: Some(("billing".into(), "https://b.example.com/m".into())),
            secret_refs: vec!["env:CRON_SECRET".into()],
        };
        assert!(s.check().is_ok());
        let text = s.render();
        assert!(
            text.contains("secret_refs:\n  - \"env:CRON_SECRET\"\n"),
            "{text}"
        );
        assert!(text.contains("#   - app: \"billing\"\n#     url: \"https://b.example.com/m\"\n"));
        let bad = Scaffold {
            source: Some(("Bad App".into(), "https://x\nevil: 1".into())),
            secret_refs: vec!["env:X\nversion: 2".into()],
        };
        assert_eq!(bad.check().unwrap_err().len(), 3);
    }
}
