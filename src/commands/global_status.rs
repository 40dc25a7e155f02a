//! `cronix global-status`: every owned job with its last and next run.

use crate::cli::{GlobalArgs, TargetArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &TargetArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix global-status` is not built yet"))
}
