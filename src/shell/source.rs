//! Manifest sources: a file path or a `file://` URL (the signed HTTP fetch lives here too).
//!
//! Returns raw bytes, capped at `MAX_MANIFEST_BYTES`; parsing belongs to `core::manifest`. A fetch is
//! bounded by `FETCH_TIMEOUT` as a whole, body included.

use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

use crate::core::manifest::MAX_MANIFEST_BYTES;
use crate::error::Failure;

/// What kind of source a string names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Http(url::Url),
}

/// Classify a source string: `https://`/`http://` URLs, `file://` URLs, anything else a path.
pub fn classify(source: &str) -> Result<Source, Failure> {
    let lower = source.get(..8).unwrap_or(source).to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        let url = url::Url::parse(source).map_err(|e| {
            Failure::invalid(format!("manifest source {source:?}: not a valid URL ({e}); write https://host/.well-known/cron-manifest"))
        })?;
        return Ok(Source::Http(url));
    }
    if lower.starts_with("file:") {
        let url = url::Url::parse(source).map_err(|e| {
            Failure::invalid(format!("manifest source {source:?}: not a valid file URL ({e}); write file:///absolute/path.json"))
        })?;
        let path = url.to_file_path().map_err(|()| {
            Failure::invalid(format!("manifest source {source:?}: a file URL needs an absolute local path, e.g. file:///etc/app/manifest.json"))
        })?;
        return Ok(Source::File(path));
    }
    if source.is_empty() {
        return Err(Failure::invalid(
            "manifest source is empty; give a file path or an https:// URL",
        ));
    }
    Ok(Source::File(PathBuf::from(source)))
}

/// What a source string names, normalized so two spellings of one source compare equal: a URL in
/// its parsed form, a path made absolute (lexically, no symlinks resolved). `None` when it names
/// nothing (an invalid URL).
pub fn identity(source: &str) -> Option<String> {
    match classify(source).ok()? {
        Source::Http(url) => Some(url.to_string()),
        Source::File(path) => {
            let absolute = std::path::absolute(&path).ok()?;
            let mut out = PathBuf::new();
            for part in absolute.components() {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        out.pop();
                    }
                    other => out.push(other),
                }
            }
            Some(out.display().to_string())
        }
    }
}

/// A source as shown in messages and the audit: URLs lose their userinfo and query (they may carry
/// tokens); paths are shown as given.
pub fn shown(source: &str) -> String {
    match classify(source) {
        Ok(Source::Http(url)) => display_url(&url),
        _ => source.to_string(),
    }
}

/// Read a local manifest file under the trust rule of every root input (`shell::trusted_path`): a
/// regular file opened `O_NOFOLLOW | O_NONBLOCK` (a symlink is refused, a FIFO never blocks), owned
/// by root or the running user, not group/other-writable, and at most `MAX_MANIFEST_BYTES` (an error,
/// never a truncation). The error names the file and the fix, never its contents.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let mut bytes =
        crate::shell::trusted_path::read(path, MAX_MANIFEST_BYTES as u64).map_err(|e| {
            Failure::invalid(format!(
                "manifest {}: {e}{}",
                path.display(),
                if e.contains("-byte limit") {
                    " (10 MiB); a manifest that large is refused"
                } else {
                    ""
                }
            ))
        })?;
    // A manifest is not a secret: take the bytes out of their zeroing wrapper without a copy.
    Ok(std::mem::take(&mut *bytes))
}

/// How an HTTP manifest fetch is signed (the operator's secret references; the first resolved one
/// signs) and sent (the config's proxy and CA file).
#[derive(Debug, Clone, Default)]
pub struct FetchAuth {
    pub secret_refs: Vec<String>,
    /// Where `secret_refs` come from ("the manifest_sources entry of app billing"), for advice.
    pub refs_from: String,
    pub env_file: Option<PathBuf>,
    pub transport: crate::shell::http::Transport,
}

/// How long a manifest fetch may take in all.
pub const FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Load a manifest from any source: a path, `file://`, `https://`, or `http://` to a loopback host.
pub fn load(source: &str, auth: &FetchAuth) -> Result<Vec<u8>, Failure> {
    match classify(source)? {
        Source::File(path) => read_file(&path),
        Source::Http(url) => fetch(&url, auth),
    }
}

/// The URL as shown in messages, logs and the audit: no userinfo, no query, no fragment (they may
/// carry tokens).
pub fn display_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

fn fetch(url: &url::Url, auth: &FetchAuth) -> Result<Vec<u8>, Failure> {
    let shown = display_url(url);
    check_fetch_url(url, &shown)?;
    if url.query().is_some() {
        crate::printer::warn(&[format!(
            "manifest {shown}: the URL has a query string; cronix signs the path with its query \
             (the protocol's rule), but the reference SDK verifies the path alone, so an app on it \
             refuses this fetch with 401; serve the manifest at a URL without a query"
        )]);
    }
    let resolved = crate::shell::secrets::resolve(&auth.secret_refs, auth.env_file.as_deref())
        .map_err(|e| {
            Failure::invalid(format!(
                "manifest {shown}: cannot resolve the operator secret to sign the fetch: {e}"
            ))
        })?;
    crate::printer::warn(&resolved.warnings);
    let skipped: Vec<String> = resolved.skipped.iter().map(|s| s.describe()).collect();
    let Some(secret) = resolved.secrets.first() else {
        return Err(Failure::invalid(no_secret(&shown, auth, &skipped)));
    };
    if !skipped.is_empty() {
        crate::printer::warn(&[format!(
            "manifest {shown}: skipped secret reference(s) that resolved to nothing ({}); the \
             fetch is signed with the next one",
            skipped.join("; ")
        )]);
    }
    let timestamp = jiff::Timestamp::now().as_second();
    let signature = crate::core::signature::sign(
        secret,
        timestamp,
        "GET",
        &crate::shell::http::path_and_query(url),
        b"",
    );
    let client = crate::shell::http::client(url, FETCH_TIMEOUT, &auth.transport).map_err(|e| {
        Failure::invalid(format!(
            "manifest {shown}: cannot set up the HTTP client: {e}"
        ))
    })?;
    let request = client
        .get(url.as_str())
        .header("X-Cron-Signature", signature.expose())
        .header("Accept", "application/json");
    let deadline = Instant::now() + FETCH_TIMEOUT;
    let worker_shown = shown.clone();
    let has_query = url.query().is_some();
    within_deadline(deadline, &shown, move || {
        let response = request.send().map_err(|e| {
            Failure::invalid(format!(
                "manifest {worker_shown}: fetch failed ({}); check the URL and that the app is up",
                crate::shell::http::describe_error(&e)
            ))
        })?;
        check_fetch_status(response.status().as_u16(), &worker_shown, has_query)?;
        read_capped_body(response, &worker_shown, deadline)
    })
}

/// Run the whole fetch (connect, headers, body) on a worker thread and give up at `deadline`:
/// reqwest's timeouts are per read, so a body that trickles in would otherwise keep the fetch alive
/// without end. A fetch given up on is left to die with the process; nothing it read is used.
fn within_deadline(
    deadline: Instant,
    shown: &str,
    fetch: impl FnOnce() -> Result<Vec<u8>, Failure> + Send + 'static,
) -> Result<Vec<u8>, Failure> {
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(fetch());
    });
    let left = deadline.saturating_duration_since(Instant::now());
    let url = shown.to_string();
    let _watch = crate::shell::progress::watch(left, move |_, left| {
        format!(
            "fetching the manifest {url}; giving up in {}",
            crate::shell::progress::seconds(left)
        )
    });
    outcome
        .recv_timeout(left)
        .unwrap_or_else(|_| Err(timed_out(shown)))
}

fn timed_out(shown: &str) -> Failure {
    Failure::invalid(format!(
        "manifest {shown}: the fetch took longer than {} s in all (a slow or stalled body counts); \
         check that the app serves its manifest promptly",
        FETCH_TIMEOUT.as_secs()
    ))
}

fn check_fetch_url(url: &url::Url, shown: &str) -> Result<(), Failure> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Failure::invalid(format!(
            "manifest {shown}: the URL carries a user name or password; remove it (the fetch is signed)"
        )));
    }
    if url.scheme() == "http" && !crate::core::manifest::is_loopback_host(url) {
        return Err(Failure::invalid(format!(
            "manifest {shown}: plain http:// is allowed only to loopback hosts (localhost, 127.0.0.0/8, [::1]); use https://"
        )));
    }
    Ok(())
}

/// The error when no reference gave a secret: say which were skipped and why, and where refs go.
fn no_secret(shown: &str, auth: &FetchAuth, skipped: &[String]) -> String {
    if skipped.is_empty() {
        let how = if auth.refs_from == crate::core::scope::OPERATOR_REFS_FROM {
            "pass --secret-ref env:NAME or set secret_refs in cronix.yaml".to_string()
        } else {
            format!("give {} secret_refs", auth.refs_from)
        };
        return format!("manifest {shown}: no secret reference to sign the fetch with; {how}");
    }
    format!(
        "manifest {shown}: no operator secret to sign the fetch: every secret reference resolved \
         to nothing ({}); set the variable (or the env file's line, or the file) they name",
        skipped.join("; ")
    )
}

fn check_fetch_status(status: u16, shown: &str, has_query: bool) -> Result<(), Failure> {
    match status {
        200..=299 => Ok(()),
        401 | 403 => Err(Failure::new(
            crate::error::FailureKind::FetchRejected,
            format!(
                "manifest {shown}: the app refused the signed fetch with HTTP {status}; {}",
                if has_query {
                    "the URL's query string is a likely cause (the reference SDK verifies the \
                     signature over the path alone): serve the manifest at a URL without a query; \
                     else check that the operator secret (--secret-ref) is one the app accepts"
                } else {
                    "check that the operator secret (--secret-ref) is one the app accepts"
                }
            ),
        )),
        300..=399 => Err(Failure::invalid(format!(
            "manifest {shown}: HTTP {status} redirect; redirects are not followed, give the final URL"
        ))),
        _ => Err(Failure::invalid(format!(
            "manifest {shown}: HTTP {status}; the app did not serve its manifest"
        ))),
    }
}

/// Read the body in chunks, checking the size cap and the whole fetch's deadline after each read.
fn read_capped_body(
    mut response: reqwest::blocking::Response,
    shown: &str,
    deadline: Instant,
) -> Result<Vec<u8>, Failure> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_MANIFEST_BYTES as u64)
    {
        return Err(Failure::invalid(format!(
            "manifest {shown}: the body is larger than 10 MiB; refused"
        )));
    }
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if Instant::now() >= deadline {
            return Err(timed_out(shown));
        }
        let n = match response.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Failure::invalid(format!(
                    "manifest {shown}: reading the body failed ({e})"
                )));
            }
        };
        bytes.extend_from_slice(&chunk[..n]);
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(Failure::invalid(format!(
                "manifest {shown}: the body is larger than 10 MiB; refused"
            )));
        }
    }
}
