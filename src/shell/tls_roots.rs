//! The certificates an HTTPS peer must chain to: the operator's `tls_ca_file` when the config names
//! one, else the system's CA bundle read from a fixed list of distribution paths.
//!
//! Never consults the environment (`SSL_CERT_FILE`, `SSL_CERT_DIR` or any other variable), and never
//! goes through loaders that do (rustls-native-certs, rustls-platform-verifier, openssl-probe): a user
//! who can set a root process's environment must not choose what it trusts. `tls_ca_file` passes the
//! trust rule of `trusted_path` (root-owned or the running user's, not group/other-writable, no
//! link); the system bundle is opened at its fixed path (distributions reach it through links) and
//! must be a regular file owned by root and not writable by group or others. Builds the rustls client
//! config; knows nothing of requests.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Where distributions keep the PEM bundle of trusted roots, in the order they are tried.
pub const SYSTEM_BUNDLES: [&str; 5] = [
    // Debian, Ubuntu, Alpine, Arch, Gentoo
    "/etc/ssl/certs/ca-certificates.crt",
    // Fedora, RHEL 7+, CentOS
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    // older RHEL and CentOS
    "/etc/pki/tls/certs/ca-bundle.crt",
    // openSUSE, SLES
    "/var/lib/ca-certificates/ca-bundle.pem",
    // Alpine, FreeBSD-like layouts
    "/etc/ssl/cert.pem",
];

/// Largest CA bundle read (Debian's is about 220 KB).
pub const MAX_BUNDLE_BYTES: u64 = 8 * 1024 * 1024;

/// The rustls client config that trusts `ca_file` (or the system bundle when `None`) and nothing
/// else, with the ring provider and TLS 1.2/1.3.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let roots = roots(ca_file)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: cannot select protocol versions ({e})"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The trusted roots alone: `ca_file` (checked by the trust rule) or the system bundle. For any TLS
/// client cronix builds, so that none of them reads `SSL_CERT_FILE`/`SSL_CERT_DIR`.
pub fn roots(ca_file: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    roots_named(ca_file, "tls_ca_file")
}

/// `roots`, with errors about `ca_file` naming it as the config key `key` (`locks.redis.ca_file`).
pub fn roots_named(ca_file: Option<&Path>, key: &str) -> Result<rustls::RootCertStore, String> {
    match ca_file {
        Some(path) => {
            let pem = crate::shell::trusted_path::read(path, MAX_BUNDLE_BYTES)
                .map_err(|why| format!("{key} {} {why}", path.display()))?;
            store(&pem, path, key)
        }
        None => system_store(),
    }
}

fn system_store() -> Result<rustls::RootCertStore, String> {
    for candidate in SYSTEM_BUNDLES {
        let path = Path::new(candidate);
        if let Some(pem) = read_system_file(path)? {
            return store(&pem, path, "the system CA bundle");
        }
    }
    Err(format!(
        "no system CA bundle found (looked at {}); install the ca-certificates package or set \
         tls_ca_file in cronix.yaml",
        SYSTEM_BUNDLES.join(", ")
    ))
}

/// The certificates of a PEM bundle that rustls can use as roots; none at all is an error.
fn store(pem: &[u8], path: &Path, what: &str) -> Result<rustls::RootCertStore, String> {
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| {
            format!(
                "{what} {} is not a PEM certificate bundle ({e}); give a file of \
                 -----BEGIN CERTIFICATE----- blocks",
                path.display()
            )
        })?;
        certs.push(cert);
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, _unusable) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!(
            "{what} {} holds no usable CA certificate; give a file of -----BEGIN CERTIFICATE----- \
             blocks",
            path.display()
        ));
    }
    Ok(roots)
}

/// A system file at a fixed path: followed through links (distributions link their bundles), but it
/// must be a regular file owned by root and not writable by group or others. `None` when missing.
fn read_system_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "the system CA bundle {} cannot be opened ({e}); check its permissions",
                path.display()
            ));
        }
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| {
        format!(
            "the system CA bundle {} cannot be inspected ({e})",
            path.display()
        )
    })?;
    if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "the system CA bundle {} is not a regular file owned by root and writable only by \
             root; fix it (`chown root`, `chmod 0644`) or set tls_ca_file in cronix.yaml",
            path.display()
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(1 << 20));
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            format!(
                "the system CA bundle {} cannot be read ({e})",
                path.display()
            )
        })?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(format!(
            "the system CA bundle {} is larger than {MAX_BUNDLE_BYTES} bytes; refused",
            path.display()
        ));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_with_its_path() {
        let err = store(b"not pem at all", Path::new("/x/ca.pem"), "tls_ca_file").unwrap_err();
        assert!(
            err.contains("/x/ca.pem") && err.contains("no usable CA"),
            "{err}"
        );
    }

    #[test]
    fn the_system_bundle_loads_when_one_is_installed() {
        if SYSTEM_BUNDLES.iter().any(|p| Path::new(p).exists()) {
            assert!(client_config(None).is_ok());
        }
    }
}
