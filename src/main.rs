//! Entry point: hands the process arguments to the library and exits with its status.
fn main() -> std::process::ExitCode {
    cronix::run()
}
