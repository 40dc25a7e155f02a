//! Reading a file that holds secrets, with ssh-style checks made on the opened descriptor.
//!
//! Opens with `O_NOFOLLOW` (a symlink is refused, not followed) and checks the open file itself with
//! fstat — regular file, not group/other-writable, owned by root or the running user, within a size
//! cap — so swapping the path between a check and the read cannot trick it. Returns the bytes in a
//! buffer that is zeroed on drop. Errors name the path and the fix, never the contents.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use zeroize::Zeroizing;

/// Mode bits that let someone other than the owner change the file.
const GROUP_OTHER_WRITE: u32 = 0o022;

/// Read `path` after checking it is a regular file, not a symlink, not group/other-writable, owned
/// by root or the effective user, and at most `max_len` bytes long.
pub fn read(path: &Path, max_len: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let file = open_no_follow(path)?;
    let meta = file
        .metadata()
        .map_err(|e| format!("could not be inspected after opening ({e})"))?;
    check_regular(&meta)?;
    check_not_writable_by_others(&meta)?;
    check_owner(&meta)?;
    check_size(meta.len(), max_len)?;
    read_capped(file, max_len)
}

fn open_no_follow(path: &Path) -> Result<File, String> {
    // NONBLOCK: opening a FIFO must not hang the shim; it is refused as "not a regular file" below.
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    rustix::fs::open(path, flags, Mode::empty())
        .map(File::from)
        .map_err(describe_open_error)
}

fn describe_open_error(errno: Errno) -> String {
    match errno {
        Errno::LOOP => {
            "is a symbolic link, which is refused; point the reference at the real file".into()
        }
        Errno::NOENT => "does not exist; create it (mode 0600) or fix the path".into(),
        Errno::ACCESS | Errno::PERM => {
            "cannot be read by this user (permission denied); fix its owner or mode".into()
        }
        Errno::ISDIR => "is a directory, not a file".into(),
        other => format!("cannot be opened ({other})"),
    }
}

fn check_regular(meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err("is not a regular file; point the reference at a plain file".into())
    }
}

fn check_not_writable_by_others(meta: &std::fs::Metadata) -> Result<(), String> {
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 {
        return Err(format!(
            "is writable by group or others (mode {mode:04o}); run chmod go-w on it (0600 is best)"
        ));
    }
    Ok(())
}

fn check_owner(meta: &std::fs::Metadata) -> Result<(), String> {
    let euid = rustix::process::geteuid().as_raw();
    let owner = meta.uid();
    if owner == 0 || owner == euid {
        Ok(())
    } else {
        Err(format!(
            "is owned by uid {owner}, not by root or the running user (uid {euid}); chown it"
        ))
    }
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

/// Read at most `max_len` bytes; a file that grew past the cap since fstat is refused, not cut.
fn read_capped(file: File, max_len: u64) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut buf = Zeroizing::new(Vec::with_capacity(
        usize::try_from(max_len).unwrap_or(0) + 1,
    ));
    file.take(max_len + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot be read ({e})"))?;
    check_size(buf.len() as u64, max_len)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_with(dir: &Path, name: &str, contents: &[u8], mode: u32) -> std::path::PathBuf {
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
    fn group_or_other_writable_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o620, 0o602, 0o666] {
            let path = file_with(dir.path(), "key", b"abc", mode);
            let err = read(&path, 64).unwrap_err();
            assert!(
                err.contains("writable by group or others"),
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
        assert!(read(&fifo, 64).unwrap_err().contains("not a regular file"));
    }

    #[test]
    fn files_owned_by_another_user_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "key", b"abc", 0o600);
        if std::os::unix::fs::chown(&path, Some(4242), None).is_err() {
            eprintln!("skipped: giving a file away needs root");
            return;
        }
        assert!(read(&path, 64).unwrap_err().contains("owned by uid 4242"));
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
}
