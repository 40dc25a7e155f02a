//! `cronix sign`: print the signature header for a request.

use crate::cli::{GlobalArgs, SignArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &SignArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix sign` is not built yet"))
}
