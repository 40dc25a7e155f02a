//! `cronix completion SHELL`: print the shell's completion script, and answer the shell while it
//! completes a word (`COMPLETE=SHELL cronix -- WORDS…`, clap_complete's dynamic completion): commands,
//! flags, and the `APP.JOB` names of the installed specs.
//!
//! Reads the spec dir the way the other commands do (the config lookup, then the default) and never
//! fails the shell: an unreadable config or spec dir completes to no job names. Must not run a
//! command, write a file or print anything on stderr while completing.

use std::ffi::OsString;
use std::io::Write;

use clap_complete::CompletionCandidate;
use clap_complete::env::{EnvCompleter, Shells};

use crate::cli::{self, CompletionArgs};
use crate::error::{ExitStatus, Failure};
use crate::settings::PathFlags;
use crate::shell::config::{self, StatePaths};

/// The variable the completion script sets (clap_complete's convention).
const VAR: &str = "COMPLETE";

pub fn run(args: &CompletionArgs) -> Result<ExitStatus, Failure> {
    let mut command = cli::command();
    let mut script = Vec::new();
    if args.r#static {
        clap_complete::generate(args.shell, &mut command, "cronix", &mut script);
    } else {
        let name = args.shell.to_string();
        let shell = completer(&name).ok_or_else(|| {
            Failure::usage(format!(
                "no dynamic completion for {name}; use `cronix completion --static {name}`"
            ))
        })?;
        let bin = crate::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "cronix".to_string());
        shell
            .write_registration(VAR, "cronix", "cronix", &bin, &mut script)
            .map_err(|e| Failure::invalid(format!("cannot write the {name} script: {e}")))?;
    }
    write_raw(&script);
    Ok(ExitStatus::OK)
}

fn completer(name: &str) -> Option<&'static dyn EnvCompleter> {
    const SHELLS: Shells<'static> = Shells::builtins();
    SHELLS.0.iter().copied().find(|c| c.is(name))
}

/// Answer the shell: `args` is the process's command line (`cronix -- WORDS…`), `shell` the value of
/// `COMPLETE`. Always exits 0: a broken completion must not break the shell.
pub fn answer(shell: &OsString, args: &[OsString]) -> ExitStatus {
    let name = std::path::Path::new(shell)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(shell) = completer(&name) else {
        return ExitStatus::OK;
    };
    let mut words: Vec<OsString> = args.iter().skip(1).cloned().collect();
    let after_dashes = words
        .iter()
        .position(|a| a == "--")
        .map_or(words.len(), |i| i + 1);
    words.drain(..after_dashes);
    let mut command = cli::command();
    command.build();
    let mut out = Vec::new();
    let cwd = crate::env::current_dir();
    let written = if words.is_empty() {
        let bin = args
            .first()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cronix".to_string());
        shell.write_registration(VAR, "cronix", "cronix", &bin, &mut out)
    } else {
        shell.write_complete(&mut command, words, cwd.as_deref(), &mut out)
    };
    if written.is_ok() {
        write_raw(&out);
    }
    ExitStatus::OK
}

/// The `APP.JOB` of every spec file in the spec dir (`--spec-dir` is not known while completing: the
/// config's `spec_dir`, else the default). Nothing, never an error, when the config or the dir
/// cannot be read (a config that is named but broken does not fall back to the default dir).
pub fn job_names() -> Vec<CompletionCandidate> {
    let Ok(loaded) = config::load(None) else {
        return Vec::new();
    };
    let config = loaded.config;
    let spec_dir = StatePaths::resolve(&PathFlags::default(), &config).spec_dir;
    crate::shell::spec_store::list(&spec_dir)
        .map(|jobs| {
            jobs.into_iter()
                .map(|(app, job)| CompletionCandidate::new(format!("{app}.{job}")))
                .collect()
        })
        .unwrap_or_default()
}

/// A script is our own text (no outside value in it): written as is. A reader that went away
/// (`| head -1`) is not an error.
fn write_raw(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}
