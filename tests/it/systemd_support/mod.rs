//! A real systemd for end-to-end tests, booted as PID 1 of its own pid+mount namespace, chrooted
//! into a throw-away overlay of a cached Debian root (built once by `.ci/systemd-root`), in a cgroup
//! of its own — never on this machine's root filesystem (DEPENDENCIES.md).
//!
//! The root's mounts are made shared after the namespace's own setup: systemd hands credentials
//! (`LoadCredential*=`) to a service through a mount that must propagate.
//!
//! The host dir `share` is bind-mounted at `/srv/e2e` inside, so the test writes manifests and
//! reads the `systemctl` call log there. Dropping the [`Systemd`] kills the namespace's PID 1 and
//! removes the cgroup dirs, whatever the test's outcome.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the shared host dir appears inside the root.
pub const SHARE: &str = "/srv/e2e";
/// The wrapper the config's `systemctl_bin` names inside: logs each call, then runs the real systemctl.
pub const LOGGED_SYSTEMCTL: &str = "/usr/local/bin/systemctl-logged";

pub struct Systemd {
    /// systemd's PID as seen from this machine.
    pub pid: u32,
    /// The unshare process that holds the namespace.
    holder: u32,
    /// The overlay's mount point (a path inside the namespace's mount table only).
    pub root: PathBuf,
    pub share: PathBuf,
    cgroups: Vec<PathBuf>,
    _dir: tempfile::TempDir,
}

/// Why the real-systemd test cannot run here, if it cannot.
pub fn skip_reason() -> Option<&'static str> {
    if std::env::var("CRONIX_E2E_SYSTEMD").as_deref() != Ok("1") {
        return Some("set CRONIX_E2E_SYSTEMD=1 to run it (root, debootstrap, cgroup v1+v2 hybrid)");
    }
    if !rustix::process::geteuid().is_root() {
        return Some("it must run as root (it boots systemd in its own namespace)");
    }
    for dir in ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"] {
        if !Path::new(dir).is_dir() {
            return Some("this machine has no /sys/fs/cgroup/systemd and unified hierarchies");
        }
    }
    None
}

/// The cached Debian root, built by `.ci/systemd-root` when missing (about a minute, once).
fn cached_root() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/systemd-root");
    let out = Command::new(&script)
        .output()
        .expect("run .ci/systemd-root");
    assert!(
        out.status.success(),
        ".ci/systemd-root failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(text.lines().last().unwrap().trim())
}

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

impl Systemd {
    /// Boot systemd with `files` (path inside → (text, mode)) and the cronix binary at
    /// `/usr/local/bin/cronix` laid into the overlay first.
    pub fn boot(files: &[(&str, String, u32)]) -> Systemd {
        let lower = cached_root();
        let dir = tempfile::Builder::new()
            .prefix("cronix-systemd-")
            .tempdir_in("/var/tmp")
            .unwrap();
        let (upper, work, root, share) = (
            dir.path().join("upper"),
            dir.path().join("work"),
            dir.path().join("root"),
            dir.path().join("share"),
        );
        for d in [&upper, &work, &root, &share] {
            fs::create_dir_all(d).unwrap();
        }
        for d in ["usr", "usr/local", "usr/local/bin", "etc", "srv", "srv/e2e"] {
            let p = upper.join(d);
            fs::create_dir_all(&p).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::copy(
            env!("CARGO_BIN_EXE_cronix"),
            upper.join("usr/local/bin/cronix"),
        )
        .unwrap();
        write(
            &upper.join(&LOGGED_SYSTEMCTL[1..]),
            &format!("#!/bin/sh\necho \"$*\" >> {SHARE}/systemctl.log\nexec systemctl \"$@\"\n"),
            0o755,
        );
        for (path, text, mode) in files {
            write(&upper.join(&path[1..]), text, *mode);
        }
        let name = format!("cronix-e2e-{}", std::process::id());
        let cgroups: Vec<PathBuf> = ["systemd", "unified"]
            .iter()
            .map(|h| Path::new("/sys/fs/cgroup").join(h).join(&name))
            .collect();
        for cg in &cgroups {
            fs::create_dir_all(cg).unwrap();
        }
        let (l, u, w, r, s) = (
            lower.display(),
            upper.display(),
            work.display(),
            root.display(),
            share.display(),
        );
        let inner = format!(
            "set -e; mount --make-rprivate /; \
             mount -t overlay overlay -o lowerdir={l},upperdir={u},workdir={w} {r}; \
             mount -t proc proc {r}/proc; mount --rbind /sys {r}/sys; mount --rbind /dev {r}/dev; \
             mount -t tmpfs -o mode=0755 tmpfs {r}/run; mount -t tmpfs -o mode=1777 tmpfs {r}/tmp; \
             mount --bind {s} {r}{SHARE}; \
             mount --make-rshared {r}; \
             exec chroot {r} /usr/bin/env container={name} /lib/systemd/systemd --system \
             --log-target=null"
        );
        let outer = format!(
            "echo $$ > {}/cgroup.procs; echo $$ > {}/cgroup.procs; \
             exec unshare --pid --fork --mount --uts --ipc sh -c '{inner}'",
            cgroups[0].display(),
            cgroups[1].display()
        );
        let holder = Command::new("setsid")
            .args(["sh", "-c", &outer])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn unshare")
            .id();
        let mut systemd = Systemd {
            pid: 0,
            holder,
            root,
            share,
            cgroups,
            _dir: dir,
        };
        systemd.pid = systemd.find_pid1();
        systemd.wait_running();
        systemd
    }

    /// The unshare's only child: systemd, once `exec chroot … systemd` has happened.
    fn find_pid1(&self) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(pid) = child_of(self.holder) {
                let exe = fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                if exe.to_string_lossy().ends_with("/systemd") {
                    return pid;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("systemd did not start in its namespace");
    }

    fn wait_running(&self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last = String::new();
        while Instant::now() < deadline {
            let out = self.run(&["systemctl", "is-system-running"]);
            last = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if last == "running" || last == "degraded" {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("systemd did not come up: is-system-running says {last:?}");
    }

    /// Run a command inside the root (its mount, pid, uts and ipc namespaces, chrooted).
    pub fn run(&self, argv: &[&str]) -> Output {
        self.command(argv).output().unwrap()
    }

    /// The command that runs `argv` inside, to add env or stdin to.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.pid.to_string())
            .args(["-m", "-p", "-u", "-i", "chroot"])
            .arg(&self.root)
            .args([
                "/usr/bin/env",
                "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TZ=UTC",
            ])
            .args(argv);
        cmd
    }

    /// Run inside and require success; stdout as text.
    pub fn ok(&self, argv: &[&str]) -> String {
        let out = self.run(argv);
        assert!(
            out.status.success(),
            "{argv:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A file of the shared dir, as the host sees it.
    pub fn shared(&self, name: &str) -> PathBuf {
        self.share.join(name)
    }

    /// The logged `systemctl` calls cronix made, one line each.
    /// The systemctl calls cronix made that change something (`show`, which only reads
    /// liveness and next elapses, is in `systemctl_queries`).
    pub fn systemctl_calls(&self) -> Vec<String> {
        self.logged_calls()
            .into_iter()
            .filter(|c| !c.starts_with("show "))
            .collect()
    }

    /// The read-only `systemctl show` calls cronix made.
    pub fn systemctl_queries(&self) -> Vec<String> {
        self.logged_calls()
            .into_iter()
            .filter(|c| c.starts_with("show "))
            .collect()
    }

    fn logged_calls(&self) -> Vec<String> {
        fs::read_to_string(self.shared("systemctl.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Systemd {
    fn drop(&mut self) {
        for pid in [self.pid, self.holder] {
            if pid != 0 {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{}", self.pid)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        for cg in &self.cgroups {
            remove_cgroup_tree(cg, deadline);
        }
    }
}

/// A child process of `parent`, from `/proc/*/stat`.
fn child_of(parent: u32) -> Option<u32> {
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis: state, ppid, …
        let after = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        if after.split_whitespace().nth(1) == Some(parent.to_string().as_str()) {
            return Some(pid);
        }
    }
    None
}

/// Remove a cgroup dir and its children, deepest first, retrying while the killed tasks leave.
fn remove_cgroup_tree(dir: &Path, deadline: Instant) {
    loop {
        let mut dirs = Vec::new();
        collect_dirs(dir, &mut dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in &dirs {
            let _ = fs::remove_dir(d);
        }
        if !dir.exists() || Instant::now() > deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn collect_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    out.push(dir.to_path_buf());
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_dirs(&entry.path(), out);
        }
    }
}
