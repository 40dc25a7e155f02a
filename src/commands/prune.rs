//! `cronix prune`: remove owned entries and their spec files.

use crate::cli::{GlobalArgs, PruneArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &PruneArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix prune` is not built yet"))
}
