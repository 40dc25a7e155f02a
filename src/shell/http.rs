//! The blocking HTTP client: rustls with the ring provider, no redirects, a total timeout.
//!
//! Builds clients and describes transport errors without echoing headers; knows nothing of signing.

use std::time::Duration;

/// A client that never follows redirects, bounded by `timeout` per request.
pub fn client(timeout: Duration) -> Result<reqwest::blocking::Client, String> {
    install_crypto_provider();
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("cronix/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// Install ring as the process's rustls provider (once; later calls are no-ops).
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A short description of a transport error: timeout, connect, or the error's own text.
pub fn describe_error(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        format!("cannot connect: {}", root_cause(error))
    } else {
        root_cause(error)
    }
}

fn root_cause(error: &dyn std::error::Error) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
