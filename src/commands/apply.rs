//! `cronix apply`: reconcile a manifest into the crontab and spec files.

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &ApplyArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix apply` is not built yet"))
}
