//! What happens after a fire is recorded: the alert streak is advanced and the targets it concerns
//! are told, and the metrics tally and textfile are brought up to date.
//!
//! Runs after the history record is written, so nothing here can change the fire's record or exit
//! code; every failure is logged and swallowed. With no `alerts` and no `metrics` in the config it
//! returns before touching any file.

use std::path::Path;

use jiff::Timestamp;
use slog::{Logger, warn};

use crate::core::alert::{self, AlertEvent, Streak};
use crate::core::history::RunRecord;
use crate::core::spec::JobSpec;
use crate::shell::config::Config;
use crate::shell::{alert as deliver, host, job_state, metrics};

/// The state kind (directory) of failure streaks.
pub const STREAK_KIND: &str = "alerts";

/// Alerts and metrics for one recorded fire.
pub fn run(config: &Config, spec: &JobSpec, record: &RunRecord, log: &Logger) {
    let alerting = config.alerts.iter().any(|t| t.covers(&spec.app));
    if !alerting && config.metrics.is_none() {
        return;
    }
    let state_dir = Path::new(&spec.state_dir);
    let host_id = host::host_id(config);
    if let Some(m) = &config.metrics {
        if let Err(msg) = metrics::refresh(state_dir, spec) {
            warn!(log, "cannot update the metrics tally"; "error" => msg);
        } else if let Err(msg) =
            metrics::write_textfile(state_dir, &m.textfile, &host_id, Timestamp::now())
        {
            warn!(log, "cannot write the metrics textfile"; "error" => msg);
        }
    }
    if alerting {
        alert_on(config, spec, record, &host_id, state_dir, log);
    }
}

fn alert_on(
    config: &Config,
    spec: &JobSpec,
    record: &RunRecord,
    host_id: &str,
    state_dir: &Path,
    log: &Logger,
) {
    let path = job_state::path(state_dir, STREAK_KIND, &spec.app, &spec.job.name);
    let step = match job_state::update(&path, |streak: Streak| {
        alert::advance(streak, record.status)
    }) {
        Ok(step) => step,
        Err(msg) => {
            warn!(log, "cannot update the failure streak; no alert decided"; "error" => msg);
            return;
        }
    };
    let now = Timestamp::now();
    let items: Vec<deliver::Item<'_>> = config
        .alerts
        .iter()
        .filter(|t| t.covers(&spec.app))
        .filter_map(|target| {
            let kind = target.decide(&step)?;
            Some(deliver::Item {
                target,
                event: AlertEvent::for_run(kind, record, &step, host_id, now),
            })
        })
        .collect();
    deliver::dispatch(items, config.env_file.as_deref(), &config.transport(), log);
}
