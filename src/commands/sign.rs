//! `cronix sign`: print the `X-Cron-Signature` value for a request, signed with the first secret.
//!
//! Prints the header and nothing else on stdout; errors name the reference, never a secret.

use crate::cli::SignArgs;
use crate::commands::signing_input::{now, operator_secrets, read_body};
use crate::core::signature;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};

pub fn run(global: &Global, args: &SignArgs) -> Result<ExitStatus, Failure> {
    let operator = operator_secrets(global)?;
    let body = read_body(args.request.body_file.as_deref())?;
    let timestamp = args.timestamp.unwrap_or_else(now);
    let Some(secret) = operator.resolved.secrets.first() else {
        return Err(Failure::invalid("no secret to sign with"));
    };
    let header = signature::sign(
        secret,
        timestamp,
        &args.request.method,
        &args.request.path,
        &body,
    );
    match global.output {
        Output::Table | Output::Wide => outln!("{}", header.expose()),
        structured => crate::printer::document(
            structured,
            &serde_json::json!({ "signature": header.expose() }),
        ),
    }
    Ok(ExitStatus::OK)
}
