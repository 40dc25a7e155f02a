//! `cronix completion SHELL`: print a completion script generated from the clap definitions.

use crate::cli::{self, CompletionArgs};
use crate::error::{ExitStatus, Failure};

pub fn run(args: &CompletionArgs) -> Result<ExitStatus, Failure> {
    let mut command = cli::command();
    clap_complete::generate(args.shell, &mut command, "cronix", &mut std::io::stdout());
    Ok(ExitStatus::OK)
}
