//! `cronix plan`: what apply would change.

use crate::cli::{GlobalArgs, ReconcileArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &ReconcileArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix plan` is not built yet"))
}
