//! `cronix verify`: check an `X-Cron-Signature` value against a request and the operator's secrets.
//!
//! Exit 0 with the index of the matching reference, or 1 with the refusal's code. Never prints a
//! secret or a computed signature.

use crate::cli::VerifyArgs;
use crate::commands::signing_input::{OperatorSecrets, now, operator_secrets, read_body};
use crate::core::signature::{self, VerifyError};
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};

pub fn run(global: &Global, args: &VerifyArgs) -> Result<ExitStatus, Failure> {
    signature::check_skew_window(args.max_skew)
        .map_err(|why| Failure::usage(format!("--max-skew {}: {why}", args.max_skew)))?;
    let operator = operator_secrets(global)?;
    let body = read_body(args.request.body_file.as_deref())?;
    let outcome = signature::verify(
        &operator.resolved.secrets,
        args.signature.as_deref(),
        &args.request.method,
        &args.request.path,
        &body,
        args.now.unwrap_or_else(now),
        args.max_skew,
    );
    outln!("{}", report(global.output, &operator, &outcome));
    Ok(match outcome {
        Ok(_) => ExitStatus::OK,
        Err(_) => ExitStatus::FAILED,
    })
}

/// The JSON shapes, fields in the documented order.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum JsonReport<'a> {
    Accepted {
        ok: bool,
        secret_index: usize,
    },
    Refused {
        ok: bool,
        code: &'static str,
        message: &'a str,
    },
}

/// One line: JSON (`{"ok":true,"secret_index":N}` or `{"ok":false,"code":...,"message":...}`) or text.
fn report(
    output: Output,
    operator: &OperatorSecrets,
    outcome: &Result<usize, VerifyError>,
) -> String {
    match (output, outcome) {
        (Output::Json | Output::Yaml, Ok(index)) => structured_line(
            output,
            &JsonReport::Accepted {
                ok: true,
                secret_index: operator.ref_index(*index),
            },
        ),
        (Output::Json | Output::Yaml, Err(e)) => structured_line(
            output,
            &JsonReport::Refused {
                ok: false,
                code: e.code.as_str(),
                message: &e.message,
            },
        ),
        (Output::Table | Output::Wide, Ok(index)) => format!(
            "ok: the signature matches secret {} ({})",
            operator.ref_index(*index),
            operator.describe(*index)
        ),
        (Output::Table | Output::Wide, Err(e)) => format!("{}: {}", e.code, e.message),
    }
}

fn structured_line(output: Output, report: &JsonReport<'_>) -> String {
    crate::printer::structured_text(output, report)
        .map(|t| t.trim_end().to_string())
        .unwrap_or_default()
}
