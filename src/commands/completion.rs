//! `cronix completion SHELL`: print a completion script generated from the clap definitions.

use crate::cli::{self, CompletionArgs};
use crate::error::{Failure, Status};

pub fn run(args: &CompletionArgs) -> Result<Status, Failure> {
    let mut command = cli::command();
    clap_complete::generate(args.shell, &mut command, "cronix", &mut std::io::stdout());
    Ok(Status::OK)
}
