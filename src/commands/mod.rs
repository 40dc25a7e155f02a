//! One module per subcommand; each is a function from checked arguments to an exit status.

pub mod adopt;
pub mod apply;
pub mod check;
pub mod completion;
pub mod doctor;
pub mod drift;
pub mod global_status;
pub mod global_status_list;
pub mod history;
pub mod init;
pub mod list;
pub mod logs;
pub mod metrics;
pub mod next;
pub mod plan;
pub mod prune;
pub mod show;
pub mod sign;
pub mod signing_input;
pub mod trigger;
pub mod validate;
pub mod verify;
pub mod version;

use crate::cli::{Cli, Command};
use crate::error::{ExitStatus, Failure};

/// Run the parsed command.
pub fn dispatch(cli: Cli) -> Result<ExitStatus, Failure> {
    let global = &cli.global.settings();
    crate::printer::set_output(global.output);
    match cli.command {
        Command::Validate(args) => validate::run(global, &args),
        Command::Plan(args) => plan::run(global, &args),
        Command::Apply(args) => apply::run(global, &args),
        Command::Drift(args) => drift::run(global, &args),
        Command::Doctor(args) => doctor::run(global, &args),
        Command::Prune(args) => prune::run(global, &args),
        Command::List(args) => list::run(global, &args),
        Command::Show(args) => show::run(global, &args),
        Command::History(args) => history::run(global, &args),
        Command::GlobalStatus(args) => global_status::run(global, &args),
        Command::Logs(args) => logs::run(global, &args),
        Command::Init(args) => init::run(global, &args),
        Command::Adopt(args) => adopt::run(global, &args),
        Command::Trigger(args) => trigger::run(global, &args),
        Command::Sign(args) => sign::run(global, &args),
        Command::Verify(args) => verify::run(global, &args),
        Command::Next(args) => next::run(global, &args),
        Command::Check(args) => check::run(global, &args),
        Command::Metrics(args) => metrics::run(global, &args),
        Command::Completion(args) => completion::run(&args),
        Command::Version => version::run(global),
    }
}
