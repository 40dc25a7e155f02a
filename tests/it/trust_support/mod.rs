//! Shared by the trust-model tests: a second local user (the attacker), created with useradd for one
//! test and removed when dropped. Tests of a privilege boundary need root; without it they print
//! `SKIP: why` and return.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether this process runs as root; prints `SKIP: <test>: …` when it does not.
pub fn root_or_skip(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("SKIP: {test}: needs root (it creates a second user and gives files away)");
    }
    root
}

/// A local user that exists for the life of this value.
pub struct Stranger {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Stranger {
    /// Create a fresh user (no home, no login shell); `None` with a `SKIP:` line when not root.
    pub fn create(test: &str) -> Option<Stranger> {
        if !root_or_skip(test) {
            return None;
        }
        let name = format!(
            "cxt{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        // useradd takes a lock on /etc/passwd; tests running in parallel may have to wait for it.
        for _ in 0..50 {
            let out = Command::new("useradd")
                .args([
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--user-group",
                ])
                .arg(&name)
                .output()
                .expect("useradd runs");
            if out.status.success() {
                let id = |flag: &str| -> u32 {
                    let out = Command::new("id").arg(flag).arg(&name).output().unwrap();
                    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
                };
                let (uid, gid) = (id("-u"), id("-g"));
                return Some(Stranger { name, uid, gid });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("useradd {name} kept failing");
    }

    /// `runuser -u <stranger> -- <program> <args…>`, in a process group of its own (`stop` ends the
    /// whole group, so no process of the stranger outlives the test and blocks `userdel`).
    pub fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", program]).process_group(0);
        cmd
    }

    /// Run a command as the stranger and return its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program).args(args).output().unwrap()
    }

    /// Give `path` to the stranger (owner and group), as if the stranger had written it.
    pub fn own(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).unwrap();
    }
}

impl Stranger {
    /// Kill, by pid, every process still running as this (test-only) user: `userdel` refuses a user
    /// with live processes, which a failed assertion may leave behind.
    fn kill_leftovers(&self) {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if entry.metadata().is_ok_and(|m| m.uid() == self.uid)
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Drop for Stranger {
    fn drop(&mut self) {
        self.kill_leftovers();
        for _ in 0..100 {
            let done = Command::new("userdel")
                .arg(&self.name)
                .output()
                .is_ok_and(|o| o.status.success() || o.status.code() == Some(6));
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("could not remove test user {}", self.name);
    }
}

/// Kill a child started by `Stranger::command` and everything in its process group, and reap it.
pub fn stop(child: &mut std::process::Child) {
    if let Some(pgid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    let _ = child.wait();
}

/// Make `path` world-traversable (tempdirs are 0700), so the stranger's own permissions decide.
pub fn open_up(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Wait for a child to exit, at most `limit`; kills it (and returns None) when it does not.
pub fn exit_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}
