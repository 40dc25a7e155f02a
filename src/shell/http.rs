//! The blocking HTTP client: rustls with the ring provider, redirects never followed, reqwest's own
//! retries off, a total timeout per request. `client` serves the manifest fetch; `shim_client` and
//! `HttpClient::send` serve the trigger shim.
//!
//! Describes transport errors without echoing headers and never reads a response body for the shim;
//! knows nothing of signing (the signature arrives as a header value marked sensitive).

use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::core::manifest::Method;

/// The manifest fetch's client: never follows redirects, bounded by `timeout` per request.
pub fn client(url: &url::Url, timeout: Duration) -> Result<Client, String> {
    builder(url, timeout).build().map_err(|e| build_error(&e))
}

/// What every client shares: ring, no redirects, no reqwest retries, one timeout, our User-Agent, and
/// TLS roots loaded only when the URL is `https://` (they cost time at every fire).
fn builder(url: &url::Url, timeout: Duration) -> reqwest::blocking::ClientBuilder {
    install_crypto_provider();
    let builder = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .timeout(timeout)
        .user_agent(USER_AGENT);
    if url.scheme() == "https" {
        builder
    } else {
        builder.tls_certs_only(std::iter::empty())
    }
}

fn build_error(e: &reqwest::Error) -> String {
    format!(
        "HTTP client: cannot build it ({e}); for https:// URLs the system CA certificates \
         (package ca-certificates) must be installed"
    )
}

/// Install ring as the process's rustls provider (once; later calls are no-ops).
pub(crate) fn install_crypto_provider() {
    // A second install in the same process is refused by rustls; the provider is in place then.
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

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("cronix/", env!("CARGO_PKG_VERSION"));

/// A client for one fire.
pub struct HttpClient {
    inner: Client,
}

/// One request to send.
pub struct Outgoing<'a> {
    pub method: Method,
    pub url: &'a url::Url,
    /// Static and per-attempt headers, in the order they are sent.
    pub headers: Vec<(String, String)>,
    /// Header values that must be marked sensitive (the signature).
    pub sensitive: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
}

/// Why no response came back; `class()` is what logs and history record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    Timeout,
    Connect,
    Network,
    /// A header name or value the client refused (cannot happen for validated specs).
    BadHeader,
}

impl SendError {
    pub fn class(self) -> &'static str {
        match self {
            SendError::Timeout => "timeout",
            SendError::Connect => "connect",
            SendError::Network => "network",
            SendError::BadHeader => "bad_header",
        }
    }
}

/// Build the client for `url`. The TLS roots (the system store, via rustls-platform-verifier) are
/// loaded only for `https://` URLs: a plain-HTTP fire does not pay for parsing the CA bundle.
pub fn shim_client(url: &url::Url, timeout: Duration) -> Result<HttpClient, String> {
    let inner = builder(url, timeout).build().map_err(|e| build_error(&e))?;
    Ok(HttpClient { inner })
}

impl HttpClient {
    /// Send one request and wait for the response head.
    pub fn send(&self, request: &Outgoing<'_>) -> Result<Reply, SendError> {
        let headers = header_map(&request.headers, &request.sensitive)?;
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .map_err(|_| SendError::BadHeader)?;
        let response = self
            .inner
            .request(method, request.url.clone())
            .headers(headers)
            .body(request.body.to_vec())
            .send()
            .map_err(|e| classify(&e))?;
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(Reply {
            status: response.status().as_u16(),
            retry_after,
        })
    }
}

fn header_map(
    plain: &[(String, String)],
    sensitive: &[(String, String)],
) -> Result<HeaderMap, SendError> {
    let mut map = HeaderMap::with_capacity(plain.len() + sensitive.len());
    let entries = plain
        .iter()
        .map(|h| (h, false))
        .chain(sensitive.iter().map(|h| (h, true)));
    for ((name, value), is_sensitive) in entries {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| SendError::BadHeader)?;
        let mut value = HeaderValue::from_str(value).map_err(|_| SendError::BadHeader)?;
        value.set_sensitive(is_sensitive);
        map.insert(name, value);
    }
    Ok(map)
}

fn classify(error: &reqwest::Error) -> SendError {
    if error.is_timeout() {
        SendError::Timeout
    } else if error.is_connect() {
        SendError::Connect
    } else {
        SendError::Network
    }
}

/// The path and query exactly as the request line carries them (what the signature covers).
pub fn path_and_query(url: &url::Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_and_query_drops_the_fragment_and_keeps_the_query() {
        let url = url::Url::parse("http://127.0.0.1:9/api/run?x=1&y=2#frag").unwrap();
        assert_eq!(path_and_query(&url), "/api/run?x=1&y=2");
        let bare = url::Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(path_and_query(&bare), "/");
    }

    #[test]
    fn clients_build_for_plain_and_tls_urls() {
        let plain = url::Url::parse("http://127.0.0.1:9/").unwrap();
        assert!(shim_client(&plain, Duration::from_secs(1)).is_ok());
        let tls = url::Url::parse("https://example.invalid/").unwrap();
        assert!(shim_client(&tls, Duration::from_secs(1)).is_ok());
    }
}
