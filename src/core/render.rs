//! The contract between the desired state and a backend's renderer: what one job's entries are
//! rendered from, and what a rendering gives back (the artifact, what it shows, what a gate costs).
//!
//! Pure. Owns no backend: `core::crontab_entry` and `core::systemd_unit` implement [`Renderer`];
//! `core::target_checks` calls it without knowing which one it drives.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::core::manifest::Job;
use crate::core::schedule::Schedule;

/// One job as a renderer sees it: its schedules parsed, its zone looked up, and the apply's time.
#[derive(Debug, Clone, Copy)]
pub struct JobInput<'a> {
    pub app: &'a str,
    pub job: &'a Job,
    pub schedules: &'a [Schedule],
    pub zone: &'a TimeZone,
    /// The effective secret references of the job (after the operator's rules).
    pub secret_refs: &'a [String],
    /// The time of the apply: renderings that depend on the zone's offsets are right around it.
    pub now: Timestamp,
}

/// One schedule rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The artifact without ownership marks: what the hash covers and what drift compares.
    pub line: String,
    /// What the backend schedules, in its own words (crontab fields, `OnCalendar=` values).
    pub shown: String,
    /// For an entry that wakes the shim more often than it fires (a gate): wake-ups on a day without
    /// an offset change.
    pub gate_wakeups_per_day: Option<u32>,
}

/// A backend's pure half: checks of the operator's settings and of each job, and the rendering of a
/// job's entries (one per schedule, in order).
pub trait Renderer {
    /// Problems with the operator's settings for this backend (paths, users, names).
    fn check_target(&self) -> Vec<String>;
    /// Problems with one job on this backend (what it cannot express or refuses).
    fn check_job(&self, input: &JobInput) -> Vec<String>;
    /// One rendering per schedule of the job, in schedule order.
    fn render_job(&self, input: &JobInput) -> Vec<Rendered>;
    /// Whether a fire due while the job's previous fire still runs is started (cron) or dropped by
    /// the scheduler itself (systemd starts no second instance of an active service).
    fn starts_overlapping_fires(&self) -> bool {
        true
    }
    /// The hash of one rendered entry (DESIGN §4 "Hash"): by default over the job's canonical
    /// single-job manifest, the index and the artifact. A backend whose entries carry no mark to hold
    /// it (vercel) hashes only what the entry shows, so what it reads back compares equal.
    fn entry_hash(&self, canonical_single_job: &str, idx: usize, line: &str) -> String {
        crate::core::hash::entry_hash(canonical_single_job, idx, line)
    }
    /// Whether the entries are fired through the shim, which reads the job's spec file; `false` for
    /// a scheduler that calls the app itself (vercel), whose jobs get no spec file.
    fn uses_spec_files(&self) -> bool {
        true
    }
}
