//! `cronix verify`: check a signature header against a request.

use crate::cli::{GlobalArgs, VerifyArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &VerifyArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix verify` is not built yet"))
}
