//! `cronix show`: one job's entries, spec, next fires and last runs.

use crate::cli::{GlobalArgs, ShowArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &ShowArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix show` is not built yet"))
}
