//! Doctor checks of the systemd credentials that installed jobs name (`cred:NAME`): for each name,
//! its sealed file `<systemd_credstore_dir>/NAME.cred` — the one the units' `LoadCredentialEncrypted=`
//! lines hand systemd — exists, passes the trust check, and decrypts on this host under that name
//! (`systemd-creds decrypt`), as systemd must decrypt it before each fire. A credential that does not
//! is a failed fire: systemd refuses to start the service.
//!
//! Never prints a secret value: the decrypted bytes are read from a pipe into zeroed-on-drop memory,
//! checked for emptiness and dropped. `systemd-creds` gets a bounded time.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::{Check, Host, jobs};
use crate::core::secret::SecretRef;
use crate::shell::{config, spec_store, trusted_path};

/// How long one `systemd-creds decrypt` may take (a TPM can be slow, never this slow).
const DECRYPT_LIMIT: Duration = Duration::from_secs(10);
/// Largest decrypted credential read (the shim refuses larger `cred:` secrets too).
const MAX_PLAIN: u64 = crate::shell::secrets::MAX_SECRET_FILE_LEN;

/// Where sealed credentials are and the `systemd-creds` that checks them.
pub struct CredStore {
    pub dir: PathBuf,
    pub bin: PathBuf,
}

/// The credential store and `systemd-creds` of the config in effect.
pub fn credstore(host: &Host) -> CredStore {
    let config = host.config();
    CredStore {
        dir: config
            .systemd_credstore_dir
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SYSTEMD_CREDSTORE_DIR)),
        bin: config
            .systemd_creds_bin
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_SYSTEMD_CREDS_BIN)),
    }
}

/// The `cred:` names of a list of references, in order.
pub fn cred_names(refs: &[String]) -> Vec<String> {
    refs.iter()
        .filter_map(|r| match SecretRef::parse(r) {
            Ok(SecretRef::Cred(name)) => Some(name),
            _ => None,
        })
        .collect()
}

/// One check per credential name that an installed job's spec refers to.
pub fn cred_checks(host: &Host) -> Vec<Check> {
    let mut names = BTreeSet::new();
    for (dir, app, job) in jobs::installed_jobs(host) {
        if let Ok(spec) = spec_store::read_spec(&dir, &app, &job) {
            names.extend(cred_names(&spec.secret_refs));
        }
    }
    let store = credstore(host);
    names
        .into_iter()
        .map(|name| {
            let check = format!("cred {name}");
            match cred_status(&store, &name) {
                Ok(None) => Check::ok(
                    check,
                    format!(
                        "{} is sealed and decrypts on this host",
                        sealed_path(&store.dir, &name).display()
                    ),
                ),
                Ok(Some(warning)) => Check::warn(check, warning),
                Err(why) => Check::fail(check, why),
            }
        })
        .collect()
}

/// `<store>/NAME.cred`.
pub fn sealed_path(store: &Path, name: &str) -> PathBuf {
    store.join(format!("{name}.cred"))
}

/// Whether systemd could hand the fire credential `name`: `Ok(None)` yes, `Ok(Some(warning))` yes
/// but with something to fix or not verifiable here, `Err(problem; fix)` no.
pub fn cred_status(store: &CredStore, name: &str) -> Result<Option<String>, String> {
    let path = sealed_path(&store.dir, name);
    let seal = format!(
        "seal it: printf %s \"$SECRET\" | systemd-creds encrypt --name={name} - {}",
        path.display()
    );
    match trusted_path::open_file_if_exists(&path) {
        Ok(Some(file)) if file.metadata().is_ok_and(|m| m.len() == 0) => {
            return Err(format!("{} is empty; {seal}", path.display()));
        }
        Ok(Some(_)) => {}
        Ok(None) => {
            return Err(format!(
                "{} does not exist, so systemd refuses to start the job's fires; {seal}",
                path.display()
            ));
        }
        Err(why) => return Err(format!("{} {why}", path.display())),
    }
    if !rustix::process::geteuid().is_root() {
        return Ok(Some(format!(
            "{} is there; run doctor as root to check that it decrypts on this host",
            path.display()
        )));
    }
    decrypt_check(&store.bin, &path, name, &seal)
}

/// Decrypt `path` under `name` into a pipe, keep nothing but whether it worked.
fn decrypt_check(
    bin: &Path,
    path: &Path,
    name: &str,
    seal: &str,
) -> Result<Option<String>, String> {
    trusted_path::check_binary(bin, None)
        .map_err(|why| format!("systemd_creds_bin {} {why}", bin.display()))?;
    let mut child = match Command::new(bin)
        .env_clear()
        .env("PATH", crate::env::CHILD_PATH)
        .arg("decrypt")
        .arg(format!("--name={name}"))
        .arg(path)
        .arg("-")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Ok(Some(format!(
                "{} is there, but {} cannot run ({e}), so whether it decrypts is not checked; \
                 install systemd or set systemd_creds_bin in the config",
                path.display(),
                bin.display()
            )));
        }
    };
    let deadline = Instant::now() + DECRYPT_LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} decrypt of {} took more than {} s; check the TPM or the host key",
                    bin.display(),
                    path.display(),
                    DECRYPT_LIMIT.as_secs()
                ));
            }
        }
    };
    let mut plain = Zeroizing::new(Vec::new());
    if let Some(out) = child.stdout.take() {
        let _ = out.take(MAX_PLAIN + 1).read_to_end(&mut plain);
    }
    let mut said = String::new();
    if let Some(err) = child.stderr.take() {
        let _ = err.take(4096).read_to_string(&mut said);
    }
    if !status.success() {
        let said = said
            .trim()
            .lines()
            .last()
            .unwrap_or("no message")
            .to_string();
        return Err(format!(
            "{} does not decrypt on this host as {name} ({said}); it was sealed elsewhere or under \
             another name: {seal}",
            path.display()
        ));
    }
    if plain.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "{} decrypts to an empty value; {seal}",
            path.display()
        ));
    }
    if plain.len() as u64 > MAX_PLAIN {
        return Err(format!(
            "{} decrypts to more than {MAX_PLAIN} bytes, which the shim refuses; seal a shorter \
             secret",
            path.display()
        ));
    }
    if said.contains("null key") {
        return Ok(Some(format!(
            "{} decrypts, but it is sealed with a null key (no confidentiality); seal it again with \
             the host key or the TPM: {seal}",
            path.display()
        )));
    }
    Ok(None)
}
