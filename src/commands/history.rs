//! `cronix history`: run history of a job, or the apply audit.

use crate::cli::{GlobalArgs, HistoryArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &HistoryArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix history` is not built yet"))
}
