//! `cronix drift`: report installed state that differs from the manifest.

use crate::cli::{DriftArgs, GlobalArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &DriftArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix drift` is not built yet"))
}
