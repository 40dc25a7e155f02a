//! Atomic file replacement: temp file in the same directory (name starts with `.`), write, fsync,
//! rename over the target, fsync the directory. A crash leaves the old or the new file, never a mix.
//!
//! Keeps an existing file's mode and owner. Must not lock (callers hold the apply lock) and must not
//! decide what to write.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

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
    write_unsynced_dir(path, bytes, new_mode)?;
    sync_dir(parent_of(path))
}

/// `write` without the directory fsync, for callers that replace many files in one directory and
/// fsync it once afterwards (before anything depends on the new files).
pub fn write_unsynced_dir(path: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    let dir = parent_of(path);
    let name = file_name(path)?;
    // lstat: a link in the target's place is replaced by the rename, and its target's owner and mode
    // are never copied onto the new file.
    let existing = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Some(meta),
        Ok(_) => None,
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    let file = temp.as_file();
    match &existing {
        Some(meta) => {
            file.set_permissions(Permissions::from_mode(meta.mode() & 0o7777))?;
            keep_owner(file, meta)?;
        }
        None => file.set_permissions(Permissions::from_mode(new_mode))?,
    }
    file.sync_all()?;
    test_pause::at(&format!("temp_written:{name}"));
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `write_unsynced_dir` with the new file's mode given (not copied from an existing file) and its
/// group given (`None`: an existing regular file's group is kept when this user may set it): the
/// temp file has them before the rename, so the new bytes are never more readable than `mode` says.
/// The owner is the writing user's.
pub fn write_exact_unsynced_dir(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    group: Option<u32>,
) -> io::Result<()> {
    let dir = parent_of(path);
    let name = file_name(path)?;
    let kept_group = match group {
        Some(_) => None,
        None => fs::symlink_metadata(path)
            .ok()
            .filter(|m| m.file_type().is_file())
            .map(|m| m.gid()),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(&temp_prefix(&name))
        .tempfile_in(dir)?;
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
    temp.as_file().sync_all()?;
    test_pause::at(&format!("temp_written:{name}"));
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
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
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent_of(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
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
