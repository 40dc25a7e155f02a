//! placeholder
pub fn run(_: &crate::cli::GlobalArgs, _: &crate::cli::CheckArgs) -> Result<crate::error::Status, crate::error::Failure> { todo!() }
