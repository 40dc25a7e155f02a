//! `cronix init [--config PATH] [--app APP --manifest-url URL] [--secret-ref REF]… [--force]`: write a
//! commented `cronix.yaml` that loads as it is, and say what to run next.
//!
//! Refuses to overwrite without `--force`. The text comes from `core::config_scaffold`; the file is
//! written by `shell::config`, which then reads it back the way every command will.

use crate::cli::InitArgs;
use crate::core::config_scaffold::Scaffold;
use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};
use crate::shell::config;

pub fn run(global: &Global, args: &InitArgs) -> Result<ExitStatus, Failure> {
    let scaffold = Scaffold {
        source: args.app.clone().zip(args.manifest_url.clone()),
        secret_refs: global.secret_refs.clone(),
    };
    scaffold.check().map_err(|errors| {
        Failure::usage(format!(
            "init: nothing was written:\n  {}",
            errors.join("\n  ")
        ))
    })?;
    let path = config::init_path(global.config.as_deref());
    let path = std::path::absolute(&path).unwrap_or(path);
    config::write_scaffold(&path, &scaffold.render(), args.force)?;
    config::read(&path)?;
    let shown = path.display();
    let manifest = args.manifest_url.as_deref().unwrap_or("SOURCE");
    let next = [
        format!("cronix validate --config {shown} {manifest}"),
        format!("cronix apply --config {shown} --manifest {manifest}"),
    ];
    match global.output {
        Output::Table | Output::Wide => {
            outln!("wrote {shown}");
            outln!("next: edit it, then run `{}` and `{}`", next[0], next[1]);
        }
        structured => crate::printer::document(
            structured,
            &serde_json::json!({"written": true, "path": shown.to_string(), "next": next}),
        ),
    }
    Ok(ExitStatus::OK)
}
