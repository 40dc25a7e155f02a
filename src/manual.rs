//! What a man page says beyond clap's definitions: EXAMPLES (the `Examples:` block that ends each
//! command's `--help`), EXIT STATUS (from `core::exit_status`), FILES (the default paths of
//! `shell::config`), ENVIRONMENT (the allow-list of `crate::env`) and SEE ALSO.
//!
//! Owns the text only, as data: `tests/it/generated_files.rs` renders it next to clap_mangen's sections
//! into `man/`. Must not read files or the environment.

use crate::core::exit_status::ExitStatus;
use crate::shell::config::{
    DEFAULT_CRONTAB_PATH, DEFAULT_LOCK_DIR, DEFAULT_SPEC_DIR, DEFAULT_STATE_DIR,
    DEFAULT_SYSTEMD_UNIT_DIR, SYSTEM_CONFIG_PATH,
};

/// One block of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Text(String),
    /// A tagged paragraph: the tag (a status, a path, a variable) and what it means.
    Item(String, String),
    /// Lines shown as they are (a command line).
    Code(String),
}

/// A man page section: its title and blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub blocks: Vec<Block>,
}

/// The sections every page has, in order.
pub const REQUIRED: [&str; 5] = [
    "EXAMPLES",
    "EXIT STATUS",
    "FILES",
    "ENVIRONMENT",
    "SEE ALSO",
];

/// The extra sections of the page of `cmd` (the root command, or a subcommand named `sub`).
pub fn sections(cmd: &clap::Command, sub: Option<&str>) -> Vec<Section> {
    let mut out = Vec::new();
    if let Some(notes) = notes(cmd) {
        out.push(Section {
            title: "NOTES",
            blocks: notes,
        });
    }
    out.extend([
        Section {
            title: "EXAMPLES",
            blocks: examples(cmd),
        },
        Section {
            title: "EXIT STATUS",
            blocks: exit_statuses(sub)
                .into_iter()
                .map(|(status, what)| Block::Item(status.0.to_string(), what.to_string()))
                .collect(),
        },
        Section {
            title: "FILES",
            blocks: files(sub),
        },
        Section {
            title: "ENVIRONMENT",
            blocks: environment(),
        },
        Section {
            title: "SEE ALSO",
            blocks: vec![Block::Text(see_also(sub))],
        },
    ]);
    out
}

const EXAMPLES_HEADING: &str = "Examples:";

/// The `Examples:` block of the command's short help, one code block per example.
fn examples(cmd: &clap::Command) -> Vec<Block> {
    let text = cmd
        .get_after_help()
        .map(|t| t.to_string())
        .unwrap_or_default();
    let Some((_, list)) = text.split_once(EXAMPLES_HEADING) else {
        return vec![Block::Text("See the description above.".into())];
    };
    let mut blocks: Vec<Block> = Vec::new();
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        let code = line.strip_prefix("  ").unwrap_or(line);
        match blocks.last_mut() {
            // A continuation line of the example above (its line ended with a backslash).
            Some(Block::Code(prev)) if prev.ends_with('\\') => {
                prev.push('\n');
                prev.push_str(code);
            }
            _ => blocks.push(Block::Code(code.to_string())),
        }
    }
    blocks
}

/// What the long help adds before its examples (`check`'s alert setup, `metrics`' queries).
fn notes(cmd: &clap::Command) -> Option<Vec<Block>> {
    let long = cmd.get_after_long_help()?.to_string();
    let notes = long
        .split_once(EXAMPLES_HEADING)
        .map_or(long.as_str(), |(before, _)| before)
        .trim_end();
    (!notes.is_empty()).then(|| vec![Block::Code(notes.to_string())])
}

/// The statuses a command exits with, from `core::exit_status`.
pub fn exit_statuses(sub: Option<&str>) -> Vec<(ExitStatus, &'static str)> {
    if sub == Some("trigger") {
        return vec![
            (
                ExitStatus::FIRE_OK,
                "the app accepted the fire (2xx), or another host already delivered this instant",
            ),
            (
                ExitStatus::FIRE_REJECTED,
                "the app rejected the request (a 4xx other than 408/429, or a 3xx)",
            ),
            (
                ExitStatus::FIRE_EXHAUSTED,
                "every attempt failed (timeout, network error, 5xx, 408, 429)",
            ),
            (
                ExitStatus::FIRE_INTERNAL,
                "the shim could not run the job: spec, config, secrets, bad arguments",
            ),
            (
                ExitStatus::FIRE_CONTENDED,
                "another fire of the job holds its lock (Forbid)",
            ),
            (
                ExitStatus::FIRE_TERMINATED,
                "stopped by SIGTERM or by a later Replace fire",
            ),
        ];
    }
    let failed = match sub {
        Some("doctor") => "a check failed",
        Some("check") => "a fire was missed",
        Some("verify") => "the signature does not verify",
        Some("validate") => "the manifest is invalid",
        Some("history" | "logs" | "show") => {
            "the job or run does not exist, or a file cannot be read"
        }
        _ => "the input is wrong: an invalid manifest or config, a job that does not exist",
    };
    let mut statuses = vec![
        (ExitStatus::OK, "success"),
        (ExitStatus::FAILED, failed),
        (
            ExitStatus::USAGE,
            "the command line is wrong: an unknown flag, a malformed value, a missing argument",
        ),
    ];
    let backend = matches!(
        sub,
        None | Some(
            "plan"
                | "apply"
                | "drift"
                | "doctor"
                | "prune"
                | "list"
                | "show"
                | "global-status"
                | "adopt"
        )
    );
    if backend {
        statuses.push((
            ExitStatus::BACKEND,
            "the backend is unusable: an unreadable or unwritable target, crontab(1) or systemctl failed",
        ));
    }
    let fetches = matches!(
        sub,
        None | Some("validate" | "plan" | "apply" | "drift" | "show" | "adopt")
    );
    if fetches {
        statuses.push((
            ExitStatus::FETCH_REJECTED,
            "the app refused the signed manifest fetch (HTTP 401/403)",
        ));
    }
    if matches!(sub, None | Some("drift")) {
        statuses.push((
            ExitStatus::DRIFTED,
            "drift --exit-on-drift: the installed state differs from the manifest",
        ));
    }
    if matches!(sub, None | Some("adopt")) {
        statuses.push((
            ExitStatus::ADOPT_DIVERGED,
            "adopt: the crontab and the manifest disagree; nothing was written",
        ));
        statuses.push((
            ExitStatus::ADOPT_NOTHING_FOUND,
            "adopt: no hand-written line runs the job",
        ));
    }
    if sub.is_none() {
        statuses.push((
            ExitStatus::FIRE_TERMINATED,
            "trigger: stopped by SIGTERM (trigger's own statuses: cronix-trigger(1))",
        ));
    }
    statuses
}

fn files(sub: Option<&str>) -> Vec<Block> {
    let config = Block::Item(
        format!("{SYSTEM_CONFIG_PATH}, ~/.cronix/cronix.yaml"),
        "the operator config (or --config, $CRONIX_CONFIG); owned by root or you, not \
         group/other-writable"
            .into(),
    );
    let specs = Block::Item(
        format!("{DEFAULT_SPEC_DIR}/APP.JOB.json"),
        "one spec file per installed job, written by apply, read at every fire (--spec-dir, \
         config spec_dir)"
            .into(),
    );
    let history = Block::Item(
        format!("{DEFAULT_STATE_DIR}/history/APP.JOB.jsonl"),
        "the run history of a job, one JSON line per fire with its attempts; audit.jsonl beside \
         it is the apply journal (--state-dir, config state_dir)"
            .into(),
    );
    let locks = Block::Item(
        format!("{DEFAULT_LOCK_DIR}/APP.JOB.lock"),
        "the per-job overlap lock of a fire (--lock-dir, config lock_dir)".into(),
    );
    let crontab = Block::Item(
        DEFAULT_CRONTAB_PATH.to_string(),
        "the crontab file cronix owns entries in, and the apply lock .cronix.lock beside it \
         (--crontab-path, config crontab_path)"
            .into(),
    );
    let units = Block::Item(
        format!("{DEFAULT_SYSTEMD_UNIT_DIR}/cronix-*.timer"),
        "the timer and service units of the systemd-timer backend (--systemd-unit-dir)".into(),
    );
    let vercel = Block::Item(
        crate::core::vercel_json::DEFAULT_JSON_PATH.to_string(),
        "the vercel backend's file, whose crons entries under the trigger prefix cronix owns, and \
         the apply lock .vercel.json.cronix-apply.lock beside it (--vercel-json-path, config \
         vercel.json_path)"
            .into(),
    );
    match sub {
        Some("next" | "completion" | "version") => vec![Block::Text(
            "None: this command reads no file of cronix's.".into(),
        )],
        Some("sign" | "verify" | "validate" | "init") => vec![config],
        Some("history" | "logs" | "check" | "metrics") => vec![config, specs, history],
        Some("trigger") => vec![config, specs, history, locks],
        Some(_) => vec![config, specs, history, crontab, units, vercel],
        None => vec![config, specs, history, locks, crontab, units, vercel],
    }
}

fn environment() -> Vec<Block> {
    let mut blocks: Vec<Block> = crate::env::ALLOWED
        .iter()
        .map(|(name, what)| Block::Item((*name).to_string(), (*what).to_string()))
        .collect();
    blocks.push(Block::Text(
        "No other variable changes what cronix does (see docs/trust-model.md).".into(),
    ));
    blocks
}

fn see_also(sub: Option<&str>) -> String {
    let related: &[&str] = match sub {
        None => &[
            "cronix-apply",
            "cronix-plan",
            "cronix-logs",
            "cronix-global-status",
            "cronix-trigger",
        ],
        Some("validate") => &["cronix", "cronix-plan"],
        Some("plan" | "apply" | "drift") => {
            &["cronix", "cronix-plan", "cronix-apply", "cronix-drift"]
        }
        Some("history" | "logs" | "global-status" | "show") => &[
            "cronix",
            "cronix-logs",
            "cronix-history",
            "cronix-global-status",
            "cronix-check",
        ],
        Some("trigger" | "sign" | "verify") => {
            &["cronix", "cronix-trigger", "cronix-sign", "cronix-verify"]
        }
        Some("check" | "metrics") => &["cronix", "cronix-check", "cronix-metrics", "cronix-logs"],
        Some("prune" | "list" | "adopt" | "doctor") => {
            &["cronix", "cronix-apply", "cronix-list", "cronix-doctor"]
        }
        Some(_) => &["cronix"],
    };
    let own = sub.map(|s| format!("cronix-{s}"));
    let mut pages: Vec<String> = related
        .iter()
        .filter(|p| own.as_deref() != Some(**p))
        .map(|p| format!("{p}(1)"))
        .collect();
    pages.extend(["crontab(5)", "cron(8)", "systemd.timer(5)"].map(String::from));
    pages.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_has_every_required_section_and_examples() {
        let root = crate::cli::command();
        let mut pages = vec![(root.clone(), None)];
        for sub in root.get_subcommands() {
            pages.push((sub.clone(), Some(sub.get_name().to_string())));
        }
        for (cmd, sub) in pages {
            let sections = sections(&cmd, sub.as_deref());
            for title in REQUIRED {
                let section = sections.iter().find(|s| s.title == title);
                assert!(
                    section.is_some_and(|s| !s.blocks.is_empty()),
                    "{sub:?} lacks {title}"
                );
            }
            let examples = &sections
                .iter()
                .find(|s| s.title == "EXAMPLES")
                .unwrap()
                .blocks;
            assert!(
                examples
                    .iter()
                    .all(|b| matches!(b, Block::Code(c) if c.starts_with("cronix ")
                        || c.starts_with("sudo cronix ") || c.starts_with("source <(cronix "))),
                "{sub:?}: {examples:?}"
            );
        }
    }
}
