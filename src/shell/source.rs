//! Manifest sources: file paths and `file://` URLs (HTTP sources are fetched here too).
//!
//! Returns raw bytes; parsing belongs to `core::manifest`.
