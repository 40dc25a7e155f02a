//! The crontab backend's renderer: one entry line per schedule, the schedule as is when the job's
//! zone behaves like the host's, else the superset of `core::tz_gate` with `--gate <idx>`.
//!
//! Pure. Only validated parts reach a line: the translated schedule, the user, absolute paths of
//! `[A-Za-z0-9/._-]` and names. Must not read or write a crontab (that is `shell::crontab_target`).

use jiff::tz::TimeZone;

use crate::core::crontab::EntryLine;
use crate::core::render::{JobInput, Rendered, Renderer};
use crate::core::secret::SecretRef;
use crate::core::target_checks::is_safe_user;
use crate::core::tz_gate::{self, Window};

/// What every line of a crontab target shares.
#[derive(Debug, Clone)]
pub struct CrontabRenderer<'a> {
    /// The user column (system crontabs), or `None` (user crontabs).
    pub run_as: Option<&'a str>,
    pub trigger_bin: &'a str,
    pub spec_dir: &'a str,
    /// The zone cron fires in.
    pub host_tz: &'a TimeZone,
    /// `trigger --otel` on every line (config `otel.render_in_entries`).
    pub otel: bool,
}

impl Renderer for CrontabRenderer<'_> {
    fn check_target(&self) -> Vec<String> {
        match self.run_as {
            Some(user) if !is_safe_user(user) => vec![format!(
                "run-as user {user:?}: a user name may only hold [A-Za-z0-9._-] and not start with \
                 '-'; fix --run-as"
            )],
            _ => Vec::new(),
        }
    }

    fn check_job(&self, input: &JobInput) -> Vec<String> {
        input
            .secret_refs
            .iter()
            .filter(|r| matches!(SecretRef::parse(r), Ok(SecretRef::Cred(_))))
            .map(|r| {
                format!(
                    "job {}: secret reference {r} is a systemd credential, which only the \
                     systemd-timer backend can hand to a fire; use --backend systemd-timer, or an \
                     env: or file: reference on crontab",
                    input.job.name
                )
            })
            .collect()
    }

    fn render_job(&self, input: &JobInput) -> Vec<Rendered> {
        let window = Window::around(input.now);
        let gated = !tz_gate::behaves_the_same(input.zone, self.host_tz, &window);
        input
            .schedules
            .iter()
            .enumerate()
            .map(|(idx, schedule)| {
                let (expression, gate, wakeups) = if gated {
                    let entry = tz_gate::gated_entry(schedule, input.zone, self.host_tz, &window);
                    (entry.expression, Some(idx), Some(entry.wakeups_per_day))
                } else {
                    (schedule.crontab_expression(), None, None)
                };
                let line = EntryLine {
                    schedule: &expression,
                    gate,
                    otel: self.otel,
                    run_as: self.run_as,
                    trigger_bin: self.trigger_bin,
                    spec_dir: self.spec_dir,
                    app: input.app,
                    job: &input.job.name,
                }
                .render();
                Rendered {
                    line,
                    shown: expression,
                    gate_wakeups_per_day: wakeups,
                }
            })
            .collect()
    }
}
