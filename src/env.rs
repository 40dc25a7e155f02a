//! The one place cronix reads its process environment, through an explicit allow-list.
//!
//! Root runs cronix from cron (a near-empty environment) and from `sudo -E` (a user's whole
//! environment), so nothing in the environment may change what root runs, trusts or where it writes
//! unless it is listed in [`ALLOWED`]: the operator's own variables, the ones systemd sets for a fire,
//! and the variables the operator's `env:` secret references name. Proxy, CA, tz-database,
//! `PATH`-style and test-hook variables are not read (child processes cronix runs as root get a clean
//! environment; see [`child_path`]). Debug builds (the test suite's) also read the variables in
//! [`DEBUG_ONLY`]; release builds compile those reads away.
//!
//! Owns reading only: it returns values and never decides what they mean. `tests/it/layering.rs` fails
//! when `std::env::` appears anywhere else under `src/`.

use std::ffi::OsString;
use std::path::PathBuf;

/// Every variable a release build reads, with what it does (printed in `docs/trust-model.md`).
pub const ALLOWED: &[(&str, &str)] = &[
    (
        "CRONIX_CONFIG",
        "the operator config file, as if given with --config (it must exist and pass the trust check)",
    ),
    (
        "HOME",
        "where ~/.cronix/cronix.yaml is looked for (root's own rules: docs/trust-model.md)",
    ),
    ("SUDO_USER", "who ran sudo: recorded in the apply audit"),
    (
        "KUBECONFIG",
        "the kubernetes backend's kubeconfig file when neither --kubeconfig, config \
         kubernetes.kubeconfig nor --in-cluster is given (its first path; else ~/.kube/config)",
    ),
    (
        "CRONIX_JOB_SPEC_DIR",
        "the shim's spec dir when trigger has no --spec-dir (the reference tool's variable)",
    ),
    (
        "CREDENTIALS_DIRECTORY",
        "set by systemd for a fire started by a cronix timer unit: where cred: secrets are",
    ),
    (
        "NO_COLOR, CLICOLOR, CLICOLOR_FORCE, TERM",
        "terminal colour only (read by the terminal library)",
    ),
    (
        "COMPLETE",
        "set by the script `cronix completion SHELL` installs, only while the shell completes a word: \
         cronix prints completion candidates (commands, flags, APP.JOB names of the installed specs) \
         and exits without running anything",
    ),
    (
        "_CLAP_COMPLETE_INDEX, _CLAP_COMPLETE_COMP_TYPE, _CLAP_COMPLETE_SPACE, _CLAP_IFS",
        "set by the same completion script next to COMPLETE (which word is completed, how the shell \
         splits the answer); read by the completion library only while COMPLETE is set",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT",
        "trigger --otel only, when the config's otel.endpoint is unset: where traces go (base URL, or the full traces URL), the headers sent with them, the export deadline in ms (capped at 10000)",
    ),
    (
        "OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES",
        "trigger --otel only: the traces' service.name and resource attributes, unless the config's otel section sets them",
    ),
    (
        "<NAME> of an env:NAME secret reference",
        "the secret's value, read only when that reference is resolved (the shim, a signed fetch, doctor)",
    ),
];

/// Variables that only a debug build reads: the test suite's stand-ins (a release build never looks).
pub const DEBUG_ONLY: &[(&str, &str)] = &[
    ("CRONIX_TEST_NOW", "the shim's clock, in unix seconds"),
    (
        "CRONIX_TEST_PAUSE_AT",
        "the step at which apply stops itself (SIGSTOP)",
    ),
    ("CRONIX_TEST_PANIC_AT", "the step at which the shim panics"),
    ("TZ", "the host's zone instead of /etc/localtime"),
    ("TZDIR", "the tz database instead of /usr/share/zoneinfo"),
];

/// The `PATH` every child process cronix runs gets (its environment is otherwise cleared).
pub const CHILD_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The command line, as the OS gave it.
pub fn args() -> Vec<OsString> {
    std::env::args_os().collect()
}

/// The path of the running binary (the default trigger binary).
pub fn current_exe() -> std::io::Result<PathBuf> {
    std::env::current_exe()
}

fn non_empty(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// `$CRONIX_CONFIG`, when set and not empty.
pub fn config_file() -> Option<PathBuf> {
    non_empty("CRONIX_CONFIG").map(PathBuf::from)
}

/// `$HOME`, when set and not empty.
pub fn home() -> Option<PathBuf> {
    non_empty("HOME").map(PathBuf::from)
}

/// `$KUBECONFIG`, when set and not empty.
pub fn kubeconfig() -> Option<PathBuf> {
    non_empty("KUBECONFIG").map(PathBuf::from)
}

/// `$SUDO_USER`, when set, not empty and UTF-8.
pub fn sudo_user() -> Option<String> {
    non_empty("SUDO_USER").and_then(|v| v.into_string().ok())
}

/// `$CRONIX_JOB_SPEC_DIR`, when set and not empty.
pub fn job_spec_dir() -> Option<PathBuf> {
    non_empty("CRONIX_JOB_SPEC_DIR").map(PathBuf::from)
}

/// `$COMPLETE` (the shell asks for completions), when set, not empty and not `0`.
pub fn complete_shell() -> Option<OsString> {
    non_empty("COMPLETE").filter(|v| v != "0")
}

/// The working directory (for the shell completion of paths); `None` when it is gone.
pub fn current_dir() -> Option<PathBuf> {
    std::env::current_dir().ok()
}

/// `$CREDENTIALS_DIRECTORY`, when set and not empty.
pub fn credentials_directory() -> Option<PathBuf> {
    non_empty("CREDENTIALS_DIRECTORY").map(PathBuf::from)
}

/// The OpenTelemetry variables the shim reads (only with `trigger --otel`).
pub const OTEL_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
];

/// The value of one of [`OTEL_VARS`], when set, not empty and UTF-8 (any other name: `None`).
pub fn otel_var(name: &str) -> Option<String> {
    if !OTEL_VARS.contains(&name) {
        return None;
    }
    non_empty(name).and_then(|v| v.into_string().ok())
}

/// The value of the variable an `env:NAME` secret reference names (set but empty is `Some("")`:
/// the caller treats it as an empty resolution).
pub fn secret_ref_var(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Debug builds: the value of a [`DEBUG_ONLY`] variable. Release builds: always `None`.
#[cfg(debug_assertions)]
pub fn debug_only(name: &str) -> Option<OsString> {
    debug_assert!(DEBUG_ONLY.iter().any(|(n, _)| *n == name));
    non_empty(name)
}

/// Debug builds: the value of a [`DEBUG_ONLY`] variable. Release builds: always `None`.
#[cfg(not(debug_assertions))]
pub fn debug_only(_name: &str) -> Option<OsString> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_name_each_variable_once() {
        let mut names: Vec<&str> = ALLOWED.iter().chain(DEBUG_ONLY).map(|(n, _)| *n).collect();
        let total = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), total);
    }

    #[test]
    fn no_proxy_ca_or_path_variable_is_allowed() {
        for (name, _) in ALLOWED {
            for banned in [
                "PROXY",
                "SSL_CERT",
                "TZDIR",
                "PATH",
                "SYSTEMCTL",
                "CRONIX_TEST",
            ] {
                assert!(!name.contains(banned), "{name} is on the allow-list");
            }
        }
    }
}
