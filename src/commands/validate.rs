//! `cronix validate`: lint a manifest, or print its canonical bytes.

use crate::cli::{GlobalArgs, ValidateArgs};
use crate::error::{Failure, Status};

pub fn run(_global: &GlobalArgs, _args: &ValidateArgs) -> Result<Status, Failure> {
    Err(Failure::usage("`cronix validate` is not built yet"))
}
