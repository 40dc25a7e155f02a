//! `cronix version`: print the version (JSON with `-o json`).

use crate::cli::{GlobalArgs, Output};
use crate::error::{Failure, Status};

pub fn run(global: &GlobalArgs) -> Result<Status, Failure> {
    let version = env!("CARGO_PKG_VERSION");
    match global.output {
        Output::Table => println!("cronix {version}"),
        Output::Json => println!(
            "{}",
            serde_json::json!({ "name": "cronix", "version": version, "protocol": 1 })
        ),
    }
    Ok(Status::OK)
}
