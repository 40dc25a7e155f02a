//! Atomic file replacement: temp file in the same directory (name starts with `.`), write, fsync,
//! rename over the target, fsync the directory. A crash leaves the old or the new file, never a mix.
//!
//! Many files of one directory go through a [`Batch`]: every temp file is written first, one
//! `syncfs(2)` of the directory's file system makes them all durable, then the renames, then one fsync
//! of the directory. The same guarantee per file, at the cost of one sync instead of one per file.
//!
//! Keeps an existing file's mode and owner. Must not lock (callers hold the apply lock) and must not
//! decide what to write.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::{NamedTempFile, TempPath};

use crate::shell::test_pause;

/// Marker in the name of every temp file cronix creates, after a leading `.` and the target's name.
pub const TEMP_TAG: &str = ".cronix-tmp";

/// The prefix of temp files for `name` in its directory: `.<name>.cronix-tmp`.
pub fn temp_prefix(name: &str) -> String {
    format!(".{name}{TEMP_TAG}")
}

/// Replace `path` with `bytes` and fsync its directory. An existing file keeps its mode and owner; a
/// new one gets `new_mode`.
pub fn write(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    let temp = temp_keeping_mode(path, bytes, new_mode)?;
    persist_synced(temp, path)?;
    sync_dir(parent_of(path))
}

/// fsync a written temp file and rename it over `path`.
fn persist_synced(temp: NamedTempFile, path: &Path) -> io::Result<()> {
    temp.as_file().sync_all()?;
    test_pause::at(&format!("temp_written:{}", file_name(path)?));
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temp file beside `path` holding `bytes` (not synced): an existing regular file's mode and owner,
/// else `new_mode`.
fn temp_keeping_mode(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<NamedTempFile> {
    // lstat: a link in the target's place is replaced by the rename, and its target's owner and mode
    // are never copied onto the new file.
    let existing = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Some(meta),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut temp = temp_beside(path)?;
    temp.write_all(bytes)?;
    let file = temp.as_file();
    match &existing {
        Some(meta) => {
            file.set_permissions(Permissions::from_mode(meta.mode() & 0o7777))?;
            keep_owner(file, meta)?;
        }
        None => file.set_permissions(Permissions::from_mode(new_mode))?,
    }
    Ok(temp)
}

/// A temp file beside `path` with `mode` and `group` set before `bytes` are written (not synced), so
/// the new bytes are never more readable than `mode` says. `group` `None`: an existing regular file's
/// group is kept when this user may set it. The owner is the writing user's.
fn temp_exact(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    group: Option<u32>,
) -> io::Result<NamedTempFile> {
    let kept_group = match group {
        Some(_) => None,
        None => fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_file())
            .map(|m| m.gid()),
    };
    let mut temp = temp_beside(path)?;
    let file = temp.as_file();
    let current = file.metadata()?.gid();
    match (group, kept_group) {
        (Some(gid), _) if gid != current => std::os::unix::fs::fchown(file, None, Some(gid))?,
        // Best effort: a user outside the old group cannot keep it.
        (None, Some(gid)) if gid != current => {
            let _ = std::os::unix::fs::fchown(file, None, Some(gid));
        }
        _ => {}
    }
    file.set_permissions(Permissions::from_mode(mode))?;
    temp.write_all(bytes)?;
    Ok(temp)
}

/// An empty temp file in `path`'s directory, named `.<name>.cronix-tmp…`.
fn temp_beside(path: &Path) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&temp_prefix(&file_name(path)?))
        .tempfile_in(parent_of(path))
}

/// Replacements of many files in one directory, made durable with one sync (see the module doc).
/// Staged temp files that are never committed are removed when the batch is dropped; those a
/// crash leaves are removed by the next run's `clean_temps`.
pub struct Batch {
    dir: PathBuf,
    /// Opened before the first temp file is written: `syncfs` on it reports every writeback error
    /// of the file system since then, and the directory fsync after the renames goes through it.
    dir_file: File,
    /// How the test pause points after the sync are named (`<what>_synced`).
    what: &'static str,
    /// fsync each temp file as it is written, where `syncfs` would not report a writeback error.
    per_file: bool,
    /// The temp files (closed: a batch holds no descriptor per file) and the paths they replace.
    staged: Vec<(TempPath, PathBuf)>,
}

impl Batch {
    /// A batch of replacements in `dir`; `what` names it in test pause points.
    pub fn new(dir: &Path, what: &'static str) -> io::Result<Batch> {
        Ok(Batch {
            dir: dir.to_path_buf(),
            dir_file: File::open(dir)?,
            what,
            per_file: !syncfs_reports_errors(&rustix::system::uname().release().to_string_lossy()),
            staged: Vec::new(),
        })
    }

    /// Stage `bytes` for `path` (in the batch's dir): an existing file's mode and owner, else
    /// `new_mode`.
    pub fn stage(&mut self, path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
        self.check_dir(path)?;
        let temp = temp_keeping_mode(path, bytes, new_mode)?;
        self.push(temp, path)
    }

    /// Stage `bytes` for `path` (in the batch's dir) with exactly `mode`, and `group` (see
    /// `temp_exact`).
    pub fn stage_exact(
        &mut self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        group: Option<u32>,
    ) -> io::Result<()> {
        self.check_dir(path)?;
        let temp = temp_exact(path, bytes, mode, group)?;
        self.push(temp, path)
    }

    fn check_dir(&self, path: &Path) -> io::Result<()> {
        if parent_of(path) == self.dir {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not in {}", path.display(), self.dir.display()),
        ))
    }

    fn push(&mut self, temp: NamedTempFile, path: &Path) -> io::Result<()> {
        if self.per_file {
            temp.as_file().sync_all()?;
        }
        test_pause::at(&format!("temp_written:{}", file_name(path)?));
        self.staged
            .push((temp.into_temp_path(), path.to_path_buf()));
        Ok(())
    }

    /// Make every staged file durable, rename each over its target, then fsync the directory once.
    /// Nothing staged: nothing synced.
    pub fn commit(self) -> io::Result<()> {
        if self.staged.is_empty() {
            return Ok(());
        }
        if !self.per_file {
            rustix::fs::syncfs(&self.dir_file)?;
        }
        test_pause::at(&format!("{}_synced", self.what));
        for (temp, path) in self.staged {
            temp.persist(&path).map_err(|e| e.error)?;
            test_pause::at(&format!("renamed:{}", file_name(&path)?));
        }
        self.dir_file.sync_all()
    }
}

/// Whether `syncfs(2)` of a kernel of this release reports writeback errors (Linux 5.8 and later;
/// before, it returned 0 even when the data was lost, and an fsync per file is the only report).
fn syncfs_reports_errors(release: &str) -> bool {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let major = numbers.next().unwrap_or(0);
    let minor = numbers.next().unwrap_or(0);
    (major, minor) >= (5, 8)
}

/// Give the new file the old file's owner when it differs (needs privilege to change).
fn keep_owner(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    let mine = file.metadata()?;
    if mine.uid() == meta.uid() && mine.gid() == meta.gid() {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(meta.uid()), Some(meta.gid()))
}

/// Remove `path` (a missing file is fine) and fsync its directory.
pub fn remove(path: &Path) -> io::Result<()> {
    if remove_unsynced_dir(path)? {
        sync_dir(parent_of(path))?;
    }
    Ok(())
}

/// `remove` without the directory fsync, for callers that remove many files of one directory and
/// fsync it once afterwards. Whether a file was removed.
pub fn remove_unsynced_dir(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// fsync a directory so a rename or unlink in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Remove temp files a crashed run left in `dir` whose names start with `prefix`. Returns how many.
pub fn clean_temps(dir: &Path, prefix: &str) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.contains(TEMP_TAG) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn file_name(path: &Path) -> io::Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_the_given_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write(&path, b"hello", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"hello");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new", 0o644).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_batch_replaces_every_file_on_commit_only() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        fs::write(&old, b"old").unwrap();
        fs::set_permissions(&old, Permissions::from_mode(0o640)).unwrap();
        let mut batch = Batch::new(dir.path(), "test").unwrap();
        batch.stage(&old, b"new", 0o644).unwrap();
        batch
            .stage_exact(&dir.path().join("added"), b"added", 0o600, None)
            .unwrap();
        assert_eq!(
            fs::read(&old).unwrap(),
            b"old",
            "nothing replaced before commit"
        );
        batch.commit().unwrap();
        assert_eq!(names_in(dir.path()), ["added", "old"]);
        assert_eq!(fs::read(&old).unwrap(), b"new");
        assert_eq!(fs::metadata(&old).unwrap().mode() & 0o777, 0o640);
        let added = dir.path().join("added");
        assert_eq!(fs::metadata(&added).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_batch_dropped_before_commit_changes_nothing_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("f"), b"old").unwrap();
        let mut batch = Batch::new(dir.path(), "test").unwrap();
        batch.stage(&dir.path().join("f"), b"new", 0o644).unwrap();
        batch.stage(&dir.path().join("g"), b"new", 0o644).unwrap();
        drop(batch);
        assert_eq!(names_in(dir.path()), ["f"]);
        assert_eq!(fs::read(dir.path().join("f")).unwrap(), b"old");
    }

    #[test]
    fn a_batch_refuses_a_file_of_another_dir() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let mut batch = Batch::new(dir.path(), "test").unwrap();
        let err = batch
            .stage(&other.path().join("f"), b"x", 0o644)
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(names_in(other.path()).is_empty());
    }

    #[test]
    fn syncfs_is_trusted_from_linux_5_8_on() {
        assert!(syncfs_reports_errors("5.8.0"));
        assert!(syncfs_reports_errors("6.1.0-28-amd64"));
        assert!(syncfs_reports_errors("6.18.44-fc-v1272"));
        assert!(!syncfs_reports_errors("5.7.19"));
        assert!(!syncfs_reports_errors("4.19.0-26-amd64"));
        assert!(!syncfs_reports_errors("unknown"));
    }

    #[test]
    fn leftover_temps_are_cleaned_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".cronix.cronix-tmpAB12"), b"x").unwrap();
        fs::write(dir.path().join("cronix"), b"keep").unwrap();
        fs::write(dir.path().join(".cronix.lock"), b"").unwrap();
        assert_eq!(clean_temps(dir.path(), &temp_prefix("cronix")).unwrap(), 1);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, vec![".cronix.lock", "cronix"]);
    }
}
