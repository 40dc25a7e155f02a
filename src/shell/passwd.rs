//! User lookups in `/etc/passwd`: does a user exist, what is a uid's name, a user's ids.
//!
//! Reads that one file; must not call out to NSS or other programs.

use std::path::Path;

pub const PASSWD: &str = "/etc/passwd";

/// Whether `name` is a user in the passwd file.
pub fn user_exists(name: &str) -> bool {
    entries(Path::new(PASSWD)).any(|(user, _, _)| user == name)
}

/// The uid and primary gid of the user `name`, if listed.
pub fn ids_of(name: &str) -> Option<(u32, u32)> {
    entries(Path::new(PASSWD)).find_map(|(user, uid, gid)| (user == name).then_some((uid, gid)))
}

/// The uid of the user `name`, if listed.
pub fn uid_of(name: &str) -> Option<u32> {
    ids_of(name).map(|(uid, _)| uid)
}

/// The name of the user with this uid, if listed.
pub fn name_of(uid: u32) -> Option<String> {
    entries(Path::new(PASSWD)).find_map(|(user, id, _)| (id == uid).then_some(user))
}

/// The invoking user's name (or their uid as a number when unlisted).
pub fn current_user() -> String {
    let uid = rustix::process::getuid().as_raw();
    name_of(uid).unwrap_or_else(|| uid.to_string())
}

fn entries(path: &Path) -> impl Iterator<Item = (String, u32, u32)> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.to_string();
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((name, uid, gid))
        })
        .collect::<Vec<_>>()
        .into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_is_uid_zero() {
        assert!(user_exists("root"));
        assert_eq!(name_of(0).as_deref(), Some("root"));
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(uid_of("no-such-user-cronix"), None);
        assert!(!user_exists("no-such-user-cronix"));
        assert_eq!(ids_of("root"), Some((0, 0)));
    }
}
