//! The settings an installed entry records: the trigger binary and the spec dir its command line
//! names (`<bin> trigger --spec-dir <dir> …`, in a crontab line or a service unit's `ExecStart=`).
//!
//! Commands run without `--spec-dir`/`--trigger-bin` (and without them in the config) take these
//! from what is installed, so `plan` and `drift` compare against what `apply` was given instead of
//! reporting every entry changed. Pure: reads the artifact text it is handed, nothing else.

use std::collections::BTreeSet;

/// The trigger binary and spec dir one artifact's command line names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recorded {
    pub trigger_bin: String,
    pub spec_dir: String,
}

/// What `artifact` records, if its command line has the `<bin> trigger --spec-dir <dir>` shape.
pub fn of_artifact(artifact: &str) -> Option<Recorded> {
    artifact.lines().find_map(|line| {
        let command = line.strip_prefix("ExecStart=").unwrap_or(line);
        let words: Vec<&str> = command.split_ascii_whitespace().collect();
        let at = words.iter().position(|w| *w == "trigger")?;
        let bin = words.get(at.checked_sub(1)?)?;
        (words.get(at + 1) == Some(&"--spec-dir")).then_some(())?;
        let dir = words.get(at + 2)?;
        (bin.starts_with('/') && dir.starts_with('/')).then(|| Recorded {
            trigger_bin: (*bin).to_string(),
            spec_dir: (*dir).to_string(),
        })
    })
}

/// The one setting every artifact agrees on: `None` when there are none, or when they disagree
/// (then the operator must say which, and the defaults stand).
pub fn agreed<'a>(artifacts: impl Iterator<Item = &'a str>) -> Option<Recorded> {
    let all: BTreeSet<Recorded> = artifacts.filter_map(of_artifact).collect();
    match all.len() {
        1 => all.into_iter().next(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crontab_line_and_a_service_unit_record_their_bin_and_spec_dir() {
        let want = Some(Recorded {
            trigger_bin: "/usr/local/bin/cronix".into(),
            spec_dir: "/srv/jobs".into(),
        });
        assert_eq!(
            of_artifact("*/5 * * * * root /usr/local/bin/cronix trigger --spec-dir /srv/jobs a.b"),
            want
        );
        assert_eq!(
            of_artifact(
                "[Unit]\n[Service]\nExecStart=/usr/local/bin/cronix trigger --spec-dir /srv/jobs a.b\n"
            ),
            want
        );
        assert_eq!(of_artifact("* * * * * root /bin/true trigger a.b"), None);
    }

    #[test]
    fn entries_that_disagree_record_nothing() {
        let a = "* * * * * root /bin/cronix trigger --spec-dir /a x.y";
        let b = "* * * * * root /bin/cronix trigger --spec-dir /b x.z";
        assert!(agreed([a, a].into_iter()).is_some());
        assert_eq!(agreed([a, b].into_iter()), None);
        assert_eq!(agreed(std::iter::empty()), None);
    }
}
