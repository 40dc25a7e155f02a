//! `cronix trigger`: the shim cron runs at every fire.

use crate::cli::{GlobalArgs, TriggerArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &TriggerArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix trigger` is not built yet"))
}
