//! `cronix next`: print the next fire times of a schedule.

use crate::cli::{GlobalArgs, NextArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &NextArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix next` is not built yet"))
}
