//! The one trust rule for every path and binary root reads, writes or runs (DESIGN §11): the operator
//! config, the `env_file` and `file:` secrets, the spec dir and spec files, the lock dir and lock
//! files, the state dir and its files, the crontab's directory, the metrics textfile's directory, the
//! directories `init` creates, the trigger binary and alert commands. The rule table, with which input
//! is checked by which function here, is docs/trust-model.md.
//!
//! Files are opened `O_NOFOLLOW | O_NONBLOCK` (a symlink is refused, a FIFO or device never blocks the
//! open) and checked with fstat on the opened descriptor: a regular file, owned by root or the running
//! user, not group/other-writable. Directories are checked the same way on their descriptor, and the
//! files in them are opened relative to it (`openat`), so swapping a path between the check and the
//! use cannot trick a check. Lock files are created 0600, never truncated on open, and tightened to
//! 0600 when an older release left them readable (flock needs only read access).
//!
//! A *walked* path (`walk`: binaries, the config found through `$HOME`, `init`'s directories, the
//! metrics textfile's and the lock dir) is checked from `/` down, one `openat(O_PATH | O_NOFOLLOW)`
//! per component: every entry on the way is owned by root, the running user or the one user the
//! caller names (the user a binary runs as), every directory on the way is not group/other-writable
//! unless it is a root-owned sticky directory such as `/tmp` (whose entries other users cannot
//! replace), and a link is followed only after it passed the same owner check, so no other user can
//! redirect the path anywhere.
//!
//! Owns opening and checking only; it does not decide what is read or written. Errors name the path,
//! the problem and the fix (`chown root PATH`, `chmod go-w PATH`), never the contents.

use std::fs::{DirBuilder, File, Metadata};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use zeroize::Zeroizing;

/// Mode bits that let someone other than the owner change a file or a directory's entries.
const GROUP_OTHER_WRITE: u32 = 0o022;
/// Mode of every lock file: flock needs only read access, so nobody else may open it.
pub const LOCK_FILE_MODE: u32 = 0o600;
/// Mode of directories cronix creates (spec, lock, state, history).
pub const DIR_MODE: u32 = 0o755;

const READ_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// Read `path` (a secret file, the env file, the config) after the trust checks, refusing a file
/// larger than `max_len`. The bytes are zeroed on drop. The error is `problem; fix` without the path's
/// role, for the caller to prefix (`env file PATH …`, `secret file:PATH …`).
pub fn read(path: &Path, max_len: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let file = open_file(path)?;
    read_capped(file, path, max_len)
}

/// `read`, with a missing file as `None` (the other problems stay errors).
pub fn read_if_exists(path: &Path, max_len: u64) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    match open_file_if_exists(path)? {
        Some(file) => read_capped(file, path, max_len).map(Some),
        None => Ok(None),
    }
}

/// Open `path` read-only after the trust checks.
pub fn open_file(path: &Path) -> Result<File, String> {
    open_file_if_exists(path)?.ok_or_else(|| {
        format!(
            "does not exist; create it or fix the path ({})",
            path.display()
        )
    })
}

/// `open_file`, with a missing file as `None`.
pub fn open_file_if_exists(path: &Path) -> Result<Option<File>, String> {
    match rustix::fs::open(path, READ_FLAGS, Mode::empty()) {
        Ok(fd) => {
            let file = File::from(fd);
            check_file(&file, path)?;
            Ok(Some(file))
        }
        Err(Errno::NOENT) => Ok(None),
        Err(errno) => Err(describe_open_error(errno, path)),
    }
}

/// The checks of a file already open: regular, trusted owner, not group/other-writable.
fn check_file(file: &File, path: &Path) -> Result<Metadata, String> {
    let meta = fstat(file, path)?;
    if !meta.file_type().is_file() {
        return Err(format!(
            "is not a regular file ({}); replace it with a plain file or fix the path ({})",
            kind_of(&meta),
            path.display()
        ));
    }
    check_owner_and_mode(&meta, path)?;
    Ok(meta)
}

/// Owner root or the running user, and not writable by group or others.
fn check_owner_and_mode(meta: &Metadata, path: &Path) -> Result<(), String> {
    check_raw_owner_and_mode(meta.uid(), meta.mode(), path)
}

fn check_raw_owner_and_mode(owner: u32, mode: u32, path: &Path) -> Result<(), String> {
    let euid = rustix::process::geteuid().as_raw();
    if owner != 0 && owner != euid {
        let to = if euid == 0 {
            "root".to_string()
        } else {
            euid.to_string()
        };
        return Err(format!(
            "is owned by uid {owner}, not by root or the running user (uid {euid}); run `chown {to} {}`",
            path.display()
        ));
    }
    let mode = mode & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 {
        return Err(format!(
            "is writable by group or others (mode {mode:04o}); run `chmod go-w {}`",
            path.display()
        ));
    }
    Ok(())
}

fn fstat(file: &File, path: &Path) -> Result<Metadata, String> {
    file.metadata().map_err(|e| {
        format!(
            "cannot be inspected after opening ({e}); check {}",
            path.display()
        )
    })
}

fn kind_of(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a plain file"
    }
}

fn describe_open_error(errno: Errno, path: &Path) -> String {
    let shown = path.display();
    match errno {
        Errno::LOOP => format!(
            "is a symbolic link, which is refused (links are never followed); point the setting at \
             the real file or remove the link ({shown})"
        ),
        Errno::ACCESS | Errno::PERM => {
            format!(
                "cannot be opened by this user (permission denied); fix the owner or mode of {shown}"
            )
        }
        Errno::ISDIR => format!("is a directory, not a file; fix the path ({shown})"),
        Errno::NOTDIR => format!("has a part that is not a directory; fix the path ({shown})"),
        other => format!("cannot be opened ({other}); check {shown}"),
    }
}

/// Read at most `max_len` bytes; a file that grew past the cap since fstat is refused, not cut.
fn read_capped(file: File, path: &Path, max_len: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    check_size(len, max_len)?;
    let mut buf = Zeroizing::new(Vec::with_capacity(
        usize::try_from(len.min(max_len)).unwrap_or(0) + 1,
    ));
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot be read ({e}); check {}", path.display()))?;
    check_size(buf.len() as u64, max_len)?;
    Ok(buf)
}

fn check_size(len: u64, max_len: u64) -> Result<(), String> {
    if len > max_len {
        Err(format!(
            "is {len} bytes, larger than the {max_len}-byte limit"
        ))
    } else {
        Ok(())
    }
}

/// A directory that passed the trust check, held open: the files in it are opened relative to it.
#[derive(Debug)]
pub struct TrustedDir {
    fd: File,
    path: PathBuf,
}

/// Open and check the directory `path` (a link to a directory is allowed; the directory it leads to is
/// what is checked).
pub fn open_dir(path: &Path) -> Result<TrustedDir, String> {
    open_dir_if_exists(path)?.ok_or_else(|| {
        format!(
            "does not exist; create it (mode 0755, owned by root) or fix the path ({})",
            path.display()
        )
    })
}

/// `open_dir`, with a missing directory as `None`.
pub fn open_dir_if_exists(path: &Path) -> Result<Option<TrustedDir>, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => File::from(fd),
        Err(Errno::NOENT) => return Ok(None),
        Err(Errno::NOTDIR) => {
            return Err(format!(
                "is not a directory; fix the path ({})",
                path.display()
            ));
        }
        Err(errno) => return Err(describe_open_error(errno, path)),
    };
    let meta = fstat(&fd, path)?;
    check_owner_and_mode(&meta, path)?;
    Ok(Some(TrustedDir {
        fd,
        path: path.to_path_buf(),
    }))
}

/// Create `path` (and missing parents, mode 0755) when it does not exist, then `open_dir` it.
pub fn ensure_dir(path: &Path) -> Result<TrustedDir, String> {
    if let Some(dir) = open_dir_if_exists(path)? {
        return Ok(dir);
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| {
            format!(
                "cannot be created ({e}); create it (mode 0755) or fix the path ({})",
                path.display()
            )
        })?;
    open_dir(path)
}

impl TrustedDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<dir>/<name>`, for messages.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn openat(&self, name: &str, flags: OFlags, mode: u32) -> Result<Option<File>, String> {
        let full = self.join(name);
        match rustix::fs::openat(&self.fd, name, flags, Mode::from_raw_mode(mode)) {
            Ok(fd) => Ok(Some(File::from(fd))),
            Err(Errno::NOENT) => Ok(None),
            Err(errno) => Err(describe_open_error(errno, &full)),
        }
    }

    /// Open `<dir>/<name>` read-only after the file checks; a missing file is `None`.
    pub fn open_file(&self, name: &str) -> Result<Option<File>, String> {
        let Some(file) = self.openat(name, READ_FLAGS, 0)? else {
            return Ok(None);
        };
        check_file(&file, &self.join(name))?;
        Ok(Some(file))
    }

    /// Read `<dir>/<name>` whole (no cap: history and audit files); a missing file is `None`.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        let Some(mut file) = self.open_file(name)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| format!("cannot be read ({e}); check {}", self.join(name).display()))?;
        Ok(Some(bytes))
    }

    /// Read `<dir>/<name>`, refusing more than `max_len` bytes (spec files); a missing file is `None`.
    pub fn read_capped(&self, name: &str, max_len: u64) -> Result<Option<Vec<u8>>, String> {
        let Some(file) = self.open_file(name)? else {
            return Ok(None);
        };
        read_capped(file, &self.join(name), max_len).map(|b| Some(b.to_vec()))
    }

    /// Open `<dir>/<name>` for appending, creating it with `mode`; never through a link.
    pub fn open_append(&self, name: &str, mode: u32) -> Result<File, String> {
        // Readable too: an append looks at the last byte to start after a torn line.
        let flags = OFlags::RDWR
            | OFlags::APPEND
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NONBLOCK
            | OFlags::NOCTTY;
        let file = self.create(name, flags, mode)?;
        check_file(&file, &self.join(name))?;
        Ok(file)
    }

    /// Open (or create, mode 0600) the lock file `<dir>/<name>` read-write: never through a link,
    /// never truncated by the open, refused when someone else owns it, and tightened to 0600 when an
    /// older release left it readable by others.
    pub fn open_lock(&self, name: &str) -> Result<File, String> {
        let flags = OFlags::RDWR
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NONBLOCK
            | OFlags::NOCTTY;
        let full = self.join(name);
        let file = self.create(name, flags, LOCK_FILE_MODE)?;
        let meta = fstat(&file, &full)?;
        if !meta.file_type().is_file() {
            return Err(format!(
                "is not a regular file ({}); remove it, cronix recreates it ({})",
                kind_of(&meta),
                full.display()
            ));
        }
        check_owner_and_mode(&meta, &full).or_else(|e| {
            if meta.uid() == rustix::process::geteuid().as_raw() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if meta.mode() & 0o077 != 0 {
            rustix::fs::fchmod(&file, Mode::from_raw_mode(LOCK_FILE_MODE)).map_err(|e| {
                format!(
                    "is readable by other users and cannot be made private ({e}); run `chmod 0600 {}`",
                    full.display()
                )
            })?;
        }
        Ok(file)
    }

    /// Whether `<dir>/<name>` exists (a link counts; it is not followed).
    pub fn contains(&self, name: &str) -> Result<bool, String> {
        match rustix::fs::statat(&self.fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(_) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(errno) => Err(describe_open_error(errno, &self.join(name))),
        }
    }

    /// Replace `<dir>/<name>` with `bytes` atomically: a new temp file in this directory (created
    /// `O_EXCL | O_NOFOLLOW`, its mode set with `fchmod` on the descriptor, never by path), written,
    /// fsynced and renamed over the name relative to the directory's descriptor. Whatever stood at
    /// the name (a link included) is replaced, never followed. The directory is not fsynced (`sync`).
    pub fn replace(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), String> {
        use std::io::Write;
        let full = self.join(name);
        let flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut made = None;
        for attempt in 0..16u32 {
            let temp = format!(
                "{}{}.{nanos}.{attempt}",
                crate::shell::atomic::temp_prefix(name),
                std::process::id()
            );
            match rustix::fs::openat(&self.fd, temp.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    made = Some((File::from(fd), temp));
                    break;
                }
                Err(Errno::EXIST) => continue,
                Err(errno) => return Err(describe_open_error(errno, &self.join(&temp))),
            }
        }
        let (mut file, temp) = made.ok_or_else(|| {
            format!(
                "cannot create a temp file beside it; check {}",
                full.display()
            )
        })?;
        let written = file
            .write_all(bytes)
            .and_then(|()| {
                rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(std::io::Error::from)
            })
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                rustix::fs::renameat(&self.fd, temp.as_str(), &self.fd, name)
                    .map_err(std::io::Error::from)
            });
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.fd, temp.as_str(), rustix::fs::AtFlags::empty());
            return Err(format!("cannot be written ({e}); check {}", full.display()));
        }
        Ok(())
    }

    /// fsync the directory, so a rename in it is durable.
    pub fn sync(&self) -> Result<(), String> {
        self.fd
            .sync_all()
            .map_err(|e| format!("cannot be synced ({e}); check {}", self.path.display()))
    }

    fn create(&self, name: &str, flags: OFlags, mode: u32) -> Result<File, String> {
        self.openat(name, flags, mode)?.ok_or_else(|| {
            format!(
                "cannot be created (its directory vanished); check {}",
                self.path.display()
            )
        })
    }
}

/// Split `path` into its trusted parent directory (created when `create`) and its file name.
pub fn parent_and_name(path: &Path, create: bool) -> Result<(Option<TrustedDir>, String), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("names no file; fix the path ({})", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = if create {
        Some(ensure_dir(parent).map_err(|e| format!("(directory {}) {e}", parent.display()))?)
    } else {
        open_dir_if_exists(parent).map_err(|e| format!("(directory {}) {e}", parent.display()))?
    };
    Ok((dir, name))
}

// ---------------------------------------------------------------------------------------------
// Walked paths: every component from `/` down is checked before it is used.

/// Links followed in one walk before it is refused (the kernel's own limit).
const MAX_LINKS: usize = 40;
/// The sticky bit: in such a directory only an entry's owner (and root) may rename or remove it.
const STICKY: u32 = 0o1000;

const PATH_FLAGS: OFlags = OFlags::PATH.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// Whether `uid` may own an entry on a walked path: root, the running user, or `also` (the user a
/// binary runs as).
fn owner_trusted(uid: u32, also: Option<u32>) -> bool {
    uid == 0 || uid == rustix::process::geteuid().as_raw() || Some(uid) == also
}

fn owners_named(also: Option<u32>) -> String {
    let euid = rustix::process::geteuid().as_raw();
    match also.filter(|&a| a != 0 && a != euid) {
        Some(a) if euid != 0 => format!("root, uid {euid} (running cronix) or uid {a}"),
        Some(a) => format!("root or uid {a}"),
        None if euid != 0 => format!("root or uid {euid} (running cronix)"),
        None => "root".to_string(),
    }
}

/// Where a walk ended.
struct Walked {
    /// The last directory reached (an `O_PATH` descriptor) and its path as walked (links resolved).
    dir: rustix::fd::OwnedFd,
    dir_path: PathBuf,
    /// Whether other users may create entries in `dir` (a root-owned sticky directory like `/tmp`).
    dir_shared: bool,
    /// The last name looked up in `dir`: the final component, or the first one that is missing.
    name: std::ffi::OsString,
    /// That entry (after a final link, when links at the end are followed) and its stat; `None` when
    /// it does not exist.
    entry: Option<(rustix::fd::OwnedFd, rustix::fs::Stat)>,
}

impl Walked {
    fn entry_path(&self) -> PathBuf {
        self.dir_path.join(&self.name)
    }
}

/// How to walk.
#[derive(Clone, Copy)]
struct WalkOptions {
    /// Also trust entries owned by this user.
    also: Option<u32>,
    /// Follow a link in the last component (a binary: cron runs it through links).
    follow_last: bool,
    /// Create missing components as directories (mode 0755): the path names a directory.
    create: bool,
}

/// A directory on the way: not group/other-writable, unless root owns it and it is sticky (`/tmp`),
/// where the entries of trusted owners cannot be replaced. Returns whether it is such a shared one.
fn check_walked_dir(st: &rustix::fs::Stat, path: &Path) -> Result<bool, String> {
    let mode = st.st_mode & 0o7777;
    if mode & GROUP_OTHER_WRITE == 0 {
        return Ok(false);
    }
    if st.st_uid == 0 && mode & STICKY != 0 {
        return Ok(true);
    }
    Err(format!(
        "goes through {shown}, which is writable by group or others (mode {mode:04o}), so another \
         user can replace what lies in it; run `chmod go-w {shown}` or use a path outside it",
        shown = path.display()
    ))
}

fn is_type(st: &rustix::fs::Stat, kind: rustix::fs::FileType) -> bool {
    rustix::fs::FileType::from_raw_mode(st.st_mode) == kind
}

/// Walk `path` from `/`: see the module doc for the rule. Stops at the first missing component.
fn walk(path: &Path, opts: WalkOptions) -> Result<Walked, String> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Component;

    let absolute = std::path::absolute(path)
        .map_err(|e| format!("cannot be made absolute ({e}); give an absolute path"))?;
    let root_fd = rustix::fs::open("/", PATH_FLAGS | OFlags::DIRECTORY, Mode::empty())
        .map_err(|e| format!("cannot open / ({e})"))?;
    let root_st = rustix::fs::fstat(&root_fd).map_err(|e| format!("cannot inspect / ({e})"))?;
    if !owner_trusted(root_st.st_uid, opts.also) {
        return Err(format!("goes through /, owned by uid {}", root_st.st_uid));
    }
    let root_shared = check_walked_dir(&root_st, Path::new("/"))?;
    let mut stack: Vec<(rustix::fd::OwnedFd, PathBuf, bool)> =
        vec![(root_fd, PathBuf::from("/"), root_shared)];
    let mut pending: VecDeque<OsString> = absolute
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect();
    let (mut links, mut created) = (0usize, 0usize);
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if stack.len() > 1 {
                stack.pop();
            }
            continue;
        }
        let last = pending.is_empty();
        let top = stack.len() - 1;
        let (dir, dir_path, _) = &stack[top];
        let entry_path = dir_path.join(&name);
        let fd = match rustix::fs::openat(dir, name.as_os_str(), PATH_FLAGS, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if opts.create && created < 64 => {
                created += 1;
                match rustix::fs::mkdirat(dir, name.as_os_str(), Mode::from_raw_mode(DIR_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => {
                        return Err(format!(
                            "cannot create {} ({e}); create it (mode 0755, owned by root) or fix \
                             the path",
                            entry_path.display()
                        ));
                    }
                }
                pending.push_front(name);
                continue;
            }
            Err(Errno::NOENT) => {
                let (dir, dir_path, dir_shared) = stack.swap_remove(top);
                return Ok(Walked {
                    dir,
                    dir_path,
                    dir_shared,
                    name,
                    entry: None,
                });
            }
            Err(errno) => return Err(describe_open_error(errno, &entry_path)),
        };
        let st = rustix::fs::fstat(&fd)
            .map_err(|e| format!("cannot inspect {} ({e})", entry_path.display()))?;
        if !owner_trusted(st.st_uid, opts.also) {
            return Err(format!(
                "goes through {shown}, which is owned by uid {uid}, not by {owners}, so that user can \
                 replace it; run `chown root {shown}` or use a path only root can change",
                shown = entry_path.display(),
                uid = st.st_uid,
                owners = owners_named(opts.also)
            ));
        }
        if is_type(&st, rustix::fs::FileType::Symlink) && (!last || opts.follow_last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(format!(
                    "goes through more than {MAX_LINKS} links; fix the path"
                ));
            }
            let target = rustix::fs::readlinkat(&fd, "", Vec::new())
                .map_err(|e| format!("cannot read the link {} ({e})", entry_path.display()))?;
            let target = PathBuf::from(std::ffi::OsStr::from_bytes(target.as_bytes()));
            if target.is_absolute() {
                stack.truncate(1);
            }
            for c in target.components().rev() {
                match c {
                    Component::Normal(n) => pending.push_front(n.to_os_string()),
                    Component::ParentDir => pending.push_front(OsString::from("..")),
                    _ => {}
                }
            }
            continue;
        }
        if !last {
            if !is_type(&st, rustix::fs::FileType::Directory) {
                return Err(format!(
                    "has a part that is not a directory ({}); fix the path",
                    entry_path.display()
                ));
            }
            let shared = check_walked_dir(&st, &entry_path)?;
            stack.push((fd, entry_path, shared));
            continue;
        }
        let (dir, dir_path, dir_shared) = stack.swap_remove(top);
        return Ok(Walked {
            dir,
            dir_path,
            dir_shared,
            name,
            entry: Some((fd, st)),
        });
    }
    Err(format!(
        "names no file or directory below / ({}); fix the path",
        absolute.display()
    ))
}

/// The binary at `path` that root runs or installs for cron (the trigger binary, an alert command,
/// `crontab`, `systemctl`, `systemd-creds`): it exists, and see `check_binary_if_exists`.
pub fn check_binary(path: &Path, runs_as: Option<u32>) -> Result<(), String> {
    if check_binary_if_exists(path, runs_as)? {
        Ok(())
    } else {
        Err(format!(
            "does not exist; install it there or fix the path ({})",
            path.display()
        ))
    }
}

/// Check a binary by walking its path (links followed only after their owner is checked): every
/// entry on the way, and the file, owned by root, the running user or `runs_as` (the user it runs
/// as); no directory on the way writable by others (a root-owned sticky one excepted); the file a
/// regular, executable file not writable by group or others. `Ok(false)` when it does not exist and
/// no other user could put it there (its place is in a directory that only trusted users change).
pub fn check_binary_if_exists(path: &Path, runs_as: Option<u32>) -> Result<bool, String> {
    let walked = walk(
        path,
        WalkOptions {
            also: runs_as,
            follow_last: true,
            create: false,
        },
    )?;
    let Some((_, st)) = &walked.entry else {
        if walked.dir_shared {
            return Err(format!(
                "does not exist, and any user may create {} in {} (mode 1777); install the binary \
                 first, or under a directory only root can change",
                walked.entry_path().display(),
                walked.dir_path.display()
            ));
        }
        return Ok(false);
    };
    let real = walked.entry_path();
    let shown = if real == path {
        path.display().to_string()
    } else {
        format!("{} (reached as {})", path.display(), real.display())
    };
    if !is_type(st, rustix::fs::FileType::RegularFile) {
        return Err(format!(
            "is not a regular file; install the binary there or fix the path ({shown})"
        ));
    }
    if st.st_mode & 0o111 == 0 {
        return Err(format!(
            "is not executable; run `chmod 0755 {}`",
            real.display()
        ));
    }
    if st.st_mode & GROUP_OTHER_WRITE != 0 {
        return Err(format!(
            "is writable by group or others (mode {:04o}); run `chmod go-w {}`",
            st.st_mode & 0o7777,
            real.display()
        ));
    }
    Ok(true)
}

/// Read the file at `path` when it exists, reached by a walk with no link at its end (the config
/// found through `$HOME`): every directory on the way must be trusted, so a user's home or a link a
/// user planted refuses the file instead of steering root to another one. `None` when it does not
/// exist.
pub fn read_walked_if_exists(
    path: &Path,
    max_len: u64,
) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    if let Err(e) = std::fs::metadata(path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Ok(None);
    }
    let walked = walk(
        path,
        WalkOptions {
            also: None,
            follow_last: false,
            create: false,
        },
    )?;
    if walked.entry.is_none() {
        return Ok(None);
    }
    let full = walked.entry_path();
    let file = match rustix::fs::openat(
        &walked.dir,
        walked.name.as_os_str(),
        READ_FLAGS,
        Mode::empty(),
    ) {
        Ok(fd) => File::from(fd),
        Err(Errno::NOENT) => return Ok(None),
        Err(errno) => return Err(describe_open_error(errno, &full)),
    };
    check_file(&file, &full)?;
    read_capped(file, &full, max_len).map(Some)
}

/// Open the directory `path` by a walk (see the module doc); the directory itself must be owned by
/// root or the running user and not group/other-writable. With `create`, missing directories are
/// created 0755 on the way (each checked like an existing one once made); without, a missing
/// directory is `None`.
pub fn open_dir_walked(path: &Path, create: bool) -> Result<Option<TrustedDir>, String> {
    let walked = walk(
        path,
        WalkOptions {
            also: None,
            follow_last: true,
            create,
        },
    )?;
    let Some((fd, st)) = &walked.entry else {
        return Ok(None);
    };
    let real = walked.entry_path();
    if !is_type(st, rustix::fs::FileType::Directory) {
        return Err(format!(
            "is not a directory; fix the path ({})",
            real.display()
        ));
    }
    check_raw_owner_and_mode(st.st_uid, st.st_mode, &real)?;
    let dir = rustix::fs::openat(
        fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| describe_open_error(errno, &real))?;
    Ok(Some(TrustedDir {
        fd: File::from(dir),
        path: path.to_path_buf(),
    }))
}

/// The lock dir as apply and doctor check it: walked, and not in a directory other users may
/// create entries in. In a sticky world-writable directory (`/var/lock` is `/run/lock`, mode 1777,
/// emptied at every boot) another user can create the lock dir before the first fire (every fire
/// then exits 3) or put a link there; the fix is a lock dir in a root-only directory, `/run/cronix`.
pub fn check_lock_dir(path: &Path) -> Result<(), String> {
    let walked = walk(
        path,
        WalkOptions {
            also: None,
            follow_last: true,
            create: false,
        },
    )?;
    if walked.dir_shared {
        return Err(format!(
            "is in {}, which every user may create entries in (mode 1777): another user can \
             create {} first, so every fire fails, or put a link there; use a lock dir in a \
             root-only directory, such as the default /run/cronix (--lock-dir or lock_dir)",
            walked.dir_path.display(),
            walked.entry_path().display()
        ));
    }
    match &walked.entry {
        None => Ok(()),
        Some((_, st)) if is_type(st, rustix::fs::FileType::Directory) => {
            check_raw_owner_and_mode(st.st_uid, st.st_mode, &walked.entry_path())
        }
        Some(_) => Err(format!(
            "is not a directory; fix the path ({})",
            walked.entry_path().display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with(dir: &Path, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn a_private_regular_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "key", b"abc\n", 0o600);
        assert_eq!(read(&path, 64).unwrap().as_slice(), b"abc\n");
    }

    #[test]
    fn group_or_other_writable_files_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o620, 0o602, 0o666] {
            let path = file_with(dir.path(), "key", b"abc", mode);
            let err = read(&path, 64).unwrap_err();
            assert!(
                err.contains("writable by group or others")
                    && err.contains(&format!("chmod go-w {}", path.display())),
                "{mode:o}: {err}"
            );
        }
    }

    #[test]
    fn symlinks_are_refused_even_to_a_good_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = file_with(dir.path(), "key", b"abc", 0o600);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(read(&link, 64).unwrap_err().contains("symbolic link"));
    }

    #[test]
    fn directories_fifos_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path(), 64).is_err());
        assert!(
            read(&dir.path().join("nope"), 64)
                .unwrap_err()
                .contains("does not exist")
        );
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, Mode::from_raw_mode(0o600)).unwrap();
        assert!(read(&fifo, 64).unwrap_err().contains("a FIFO"));
        let trusted = open_dir(dir.path()).unwrap();
        assert!(trusted.open_file("fifo").unwrap_err().contains("a FIFO"));
    }

    #[test]
    fn files_owned_by_another_user_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "key", b"abc", 0o600);
        if std::os::unix::fs::chown(&path, Some(4242), None).is_err() {
            eprintln!("SKIP: giving a file away needs root");
            return;
        }
        let err = read(&path, 64).unwrap_err();
        assert!(
            err.contains("owned by uid 4242") && err.contains("chown root"),
            "{err}"
        );
    }

    #[test]
    fn files_over_the_cap_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "key", &[b'a'; 65], 0o600);
        assert!(
            read(&path, 64)
                .unwrap_err()
                .contains("larger than the 64-byte limit")
        );
        let path = file_with(dir.path(), "key", &[b'a'; 64], 0o600);
        assert_eq!(read(&path, 64).unwrap().len(), 64);
    }

    #[test]
    fn a_group_writable_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = open_dir(dir.path()).unwrap_err();
        assert!(err.contains("chmod go-w"), "{err}");
    }

    #[test]
    fn lock_files_are_created_private_and_old_ones_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let trusted = open_dir(dir.path()).unwrap();
        trusted.open_lock("a.lock").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("a.lock")), 0o600);
        let old = file_with(dir.path(), "b.lock", b"kept", 0o644);
        trusted.open_lock("b.lock").unwrap();
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"kept", "never truncated");
    }

    #[test]
    fn a_lock_file_that_is_a_symlink_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = file_with(dir.path(), "victim", b"precious", 0o644);
        std::os::unix::fs::symlink(&victim, dir.path().join("a.lock")).unwrap();
        let trusted = open_dir(dir.path()).unwrap();
        assert!(
            trusted
                .open_lock("a.lock")
                .unwrap_err()
                .contains("symbolic link")
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    /// A 0755 directory `name` in `parent` (tempdirs are 0700, which the walk accepts too).
    fn dir_in(parent: &Path, name: &str, mode: u32) -> PathBuf {
        let dir = parent.join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        dir
    }

    #[test]
    fn a_binary_is_walked_through_trusted_links_and_refused_behind_a_loose_directory() {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = dir_in(dir.path(), "bin", 0o755);
        let bin = file_with(&bin_dir, "cronix", b"#!/bin/sh\n", 0o755);
        check_binary(&bin, None).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("bin/cronix", &link).unwrap();
        check_binary(&link, None).unwrap();
        let dotted = bin_dir.join("../bin/./cronix");
        check_binary(&dotted, None).unwrap();

        std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        for path in [&bin, &link] {
            let err = check_binary(path, None).unwrap_err();
            assert!(
                err.contains(&format!("goes through {}", bin_dir.display()))
                    && err.contains(&format!("chmod go-w {}", bin_dir.display())),
                "{err}"
            );
        }
        std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            check_binary(&bin, None)
                .unwrap_err()
                .contains("not executable")
        );
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(check_binary(&bin, None).unwrap_err().contains("chmod go-w"));
    }

    #[test]
    fn a_missing_binary_passes_only_where_no_other_user_can_create_it() {
        let dir = tempfile::tempdir().unwrap();
        let bin_dir = dir_in(dir.path(), "bin", 0o755);
        assert!(!check_binary_if_exists(&bin_dir.join("cronix"), None).unwrap());
        assert!(!check_binary_if_exists(&bin_dir.join("sub/cronix"), None).unwrap());
        assert!(
            check_binary(&bin_dir.join("cronix"), None)
                .unwrap_err()
                .contains("does not exist")
        );
        let shared = dir_in(dir.path(), "shared", 0o1777);
        let err = check_binary_if_exists(&shared.join("cronix"), None).unwrap_err();
        assert!(err.contains("any user may create"), "{err}");
        file_with(&shared, "cronix", b"#!/bin/sh\n", 0o755);
        assert!(check_binary_if_exists(&shared.join("cronix"), None).unwrap());
        let loose = dir_in(dir.path(), "loose", 0o777);
        assert!(check_binary_if_exists(&loose.join("cronix"), None).is_err());
    }

    #[test]
    fn walked_directories_are_created_0755_and_replace_never_follows_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        let trusted = open_dir_walked(&deep, true).unwrap().unwrap();
        assert_eq!(std::fs::metadata(&deep).unwrap().mode() & 0o7777, 0o755);
        assert!(
            open_dir_walked(&dir.path().join("nope"), false)
                .unwrap()
                .is_none()
        );

        let victim = file_with(dir.path(), "victim", b"precious", 0o644);
        std::os::unix::fs::symlink(&victim, deep.join("out")).unwrap();
        assert!(trusted.contains("out").unwrap());
        trusted.replace("out", b"new", 0o600).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::metadata(&victim).unwrap().mode() & 0o777, 0o644);
        let out = std::fs::symlink_metadata(deep.join("out")).unwrap();
        assert!(out.is_file() && out.mode() & 0o777 == 0o600);
        assert_eq!(std::fs::read(deep.join("out")).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(&deep).unwrap().collect();
        assert_eq!(names.len(), 1, "no temp file is left");
    }

    #[test]
    fn a_lock_dir_in_a_sticky_world_writable_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        check_lock_dir(&dir.path().join("locks")).unwrap();
        let shared = dir_in(dir.path(), "lock", 0o1777);
        let err = check_lock_dir(&shared.join("cronix")).unwrap_err();
        assert!(err.contains("/run/cronix"), "{err}");
        dir_in(&shared, "cronix", 0o755);
        assert!(check_lock_dir(&shared.join("cronix")).is_err());
    }

    #[test]
    fn a_walked_file_read_refuses_a_final_link_and_misses_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir_in(dir.path(), "home", 0o755);
        assert!(
            read_walked_if_exists(&sub.join(".cronix/cronix.yaml"), 64)
                .unwrap()
                .is_none()
        );
        let real = file_with(&sub, "real.yaml", b"version: 1\n", 0o600);
        assert_eq!(
            read_walked_if_exists(&real, 64)
                .unwrap()
                .unwrap()
                .as_slice(),
            b"version: 1\n"
        );
        std::os::unix::fs::symlink(&real, sub.join("link.yaml")).unwrap();
        assert!(
            read_walked_if_exists(&sub.join("link.yaml"), 64)
                .unwrap_err()
                .contains("symbolic link")
        );
    }
}
