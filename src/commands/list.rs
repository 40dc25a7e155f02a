//! `cronix list`: list owned crontab entries.

use crate::cli::{GlobalArgs, TargetArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &TargetArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix list` is not built yet"))
}
