//! Manifest sources: a file path or a `file://` URL (the signed HTTP fetch lives here too).
//!
//! Returns raw bytes, capped at `MAX_MANIFEST_BYTES`; parsing belongs to `core::manifest`.

use std::io::Read;
use std::path::PathBuf;

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

/// Read a local manifest file, refusing one over the size cap (an error, never a truncation).
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::invalid(format!(
            "manifest {}: cannot open it ({e}); check the path",
            path.display()
        ))
    })?;
    if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(Failure::invalid(format!(
            "manifest {}: is a directory; give the manifest file",
            path.display()
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| {
            Failure::invalid(format!("manifest {}: cannot read it ({e})", path.display()))
        })?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(Failure::invalid(format!(
            "manifest {}: larger than {MAX_MANIFEST_BYTES} bytes (10 MiB); a manifest that large is refused",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Read a local source (path or `file://`); HTTP sources are refused here with the fix.
pub fn read_local(source: &str) -> Result<Vec<u8>, Failure> {
    match classify(source)? {
        Source::File(path) => read_file(&path),
        Source::Http(_) => Err(Failure::invalid(format!(
            "manifest source {source:?}: this command reads local files only; download it first or use `cronix plan --manifest {source}`"
        ))),
    }
}
