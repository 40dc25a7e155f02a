//! `cronix version`: print the version, the git commit, the build date and the target (JSON with
//! `-o json`). The build metadata comes from `build.rs` ("unknown" when git was not available).

use crate::error::{ExitStatus, Failure};
use crate::settings::{Global, Output};

/// The commit, build date and target triple this binary was built from.
pub const COMMIT: &str = env!("CRONIX_BUILD_COMMIT");
pub const BUILD_DATE: &str = env!("CRONIX_BUILD_DATE");
pub const TARGET: &str = env!("CRONIX_BUILD_TARGET");

pub fn run(global: &Global) -> Result<ExitStatus, Failure> {
    let version = env!("CARGO_PKG_VERSION");
    match global.output {
        Output::Table | Output::Wide => {
            outln!("cronix {version} (commit {COMMIT}, built {BUILD_DATE}, {TARGET})")
        }
        structured => crate::printer::document(
            structured,
            &serde_json::json!({
                "name": "cronix",
                "version": version,
                "protocol": 1,
                "commit": COMMIT,
                "build_date": BUILD_DATE,
                "target": TARGET,
            }),
        ),
    }
    Ok(ExitStatus::OK)
}
