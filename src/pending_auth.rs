//! Stand-in for `core::secret`, `core::signature` and `shell::secrets` until they land; same names
//! and signatures. Removed when the real modules are merged.

pub mod secret {
    use zeroize::Zeroizing;

    /// Secret bytes; Debug prints `[redacted]`, memory is zeroed on drop.
    pub struct Secret(Zeroizing<Vec<u8>>);

    impl Secret {
        pub fn new(bytes: Vec<u8>) -> Secret {
            Secret(Zeroizing::new(bytes))
        }
        pub fn expose(&self) -> &[u8] {
            &self.0
        }
    }

    impl std::fmt::Debug for Secret {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("[redacted]")
        }
    }
}

pub mod signature {
    use hmac::{KeyInit, Mac};
    use sha2::Sha256;

    use super::secret::Secret;

    type HmacSha256 = hmac::Hmac<Sha256>;

    pub struct SignatureHeader(String);

    impl SignatureHeader {
        pub fn expose(&self) -> &str {
            &self.0
        }
    }

    impl std::fmt::Debug for SignatureHeader {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("[redacted]")
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum VerifyError {
        MissingSignature,
        MalformedHeader,
        StaleTimestamp,
        SignatureMismatch,
    }

    fn mac(secret: &[u8], ts: i64, method: &str, path: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new_from_slice(&[0]).unwrap());
        mac.update(format!("{ts}.{}.{path}.", method.to_ascii_uppercase()).as_bytes());
        mac.update(body);
        mac
    }

    pub fn sign(
        secret: &Secret,
        timestamp: i64,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> SignatureHeader {
        let tag = mac(secret.expose(), timestamp, method, path_and_query, body).finalize();
        SignatureHeader(format!(
            "t={timestamp},v1={}",
            hex::encode(tag.into_bytes())
        ))
    }

    pub fn verify(
        secrets: &[Secret],
        header: Option<&str>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now: i64,
        max_skew: i64,
    ) -> Result<usize, VerifyError> {
        let header = header.ok_or(VerifyError::MissingSignature)?;
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1 = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (t, v1) = t.zip(v1).ok_or(VerifyError::MalformedHeader)?;
        if (now - t).abs() > max_skew {
            return Err(VerifyError::StaleTimestamp);
        }
        secrets
            .iter()
            .position(|s| {
                mac(s.expose(), t, method, path_and_query, body)
                    .verify_slice(&v1)
                    .is_ok()
            })
            .ok_or(VerifyError::SignatureMismatch)
    }
}

pub mod secrets {
    use std::path::Path;

    use super::secret::Secret;

    pub struct Resolved {
        pub secrets: Vec<Secret>,
        pub skipped: Vec<String>,
    }

    pub fn resolve(refs: &[String], env_file: Option<&Path>) -> Result<Resolved, String> {
        let mut file_env = Vec::new();
        if let Some(path) = env_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("env_file {}: cannot read it ({e})", path.display()))?;
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    file_env.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
        }
        let mut out = Resolved {
            secrets: Vec::new(),
            skipped: Vec::new(),
        };
        for r in refs {
            let value = match r.split_once(':') {
                Some(("env", name)) => file_env
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(name).ok()),
                Some(("file", path)) => std::fs::read_to_string(path)
                    .ok()
                    .map(|s| s.trim().to_string()),
                Some(("raw", v)) => Some(v.to_string()),
                _ => return Err(format!("secret ref {r:?}: unknown scheme")),
            };
            match value.filter(|v| !v.is_empty()) {
                Some(v) => out.secrets.push(Secret::new(v.into_bytes())),
                None => out.skipped.push(r.clone()),
            }
        }
        Ok(out)
    }
}
