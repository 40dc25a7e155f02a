//! The blocking HTTP client: rustls with the ring provider, redirects never followed, reqwest's own
//! retries off, a total timeout per request. `client` serves the manifest fetch; `shim_client` and
//! `HttpClient::send` serve the trigger shim and alert webhooks.
//!
//! How a peer is reached comes from the operator config only (`Transport`): the environment's proxy
//! variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`, lowercase too) and CA variables
//! (`SSL_CERT_FILE`, `SSL_CERT_DIR`) are ignored, since cron's `pam_env` or `sudo -E` can put a user's
//! choice there. The config's `http_proxy` is used for every host but a loopback one; TLS roots are
//! the config's `tls_ca_file` or the system bundle (`shell::tls_roots`).
//!
//! Describes transport errors without echoing headers and never reads a response body for the shim;
//! knows nothing of signing (the signature arrives as a header value marked sensitive).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::core::manifest::Method;

/// How cronix reaches its HTTP peers, from the operator config (never from the environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transport {
    /// `http_proxy`: the `http://host:port` proxy for every host but a loopback one.
    pub proxy: Option<url::Url>,
    /// `tls_ca_file`: the PEM bundle to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
}

impl Transport {
    /// The proxy a request to `url` goes through: none for a loopback host, whatever the config says.
    pub fn proxy_for(&self, url: &url::Url) -> Option<&url::Url> {
        self.proxy
            .as_ref()
            .filter(|_| !crate::core::manifest::is_loopback_host(url))
    }
}

/// The manifest fetch's client: never follows redirects, bounded by `timeout` per request.
pub fn client(url: &url::Url, timeout: Duration, transport: &Transport) -> Result<Client, String> {
    builder(url, timeout, transport)?
        .build()
        .map_err(|e| build_error(&e))
}

/// What every client shares: ring, no redirects, no reqwest retries, one timeout, our User-Agent, no
/// proxy but the configured one, and TLS roots loaded only when the URL is `https://` (they cost time
/// at every fire).
fn builder(
    url: &url::Url,
    timeout: Duration,
    transport: &Transport,
) -> Result<reqwest::blocking::ClientBuilder, String> {
    install_crypto_provider();
    // `no_proxy` turns off reqwest's reading of the proxy variables; `proxy` adds ours alone.
    let builder = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .retry(reqwest::retry::never())
        .timeout(timeout)
        .user_agent(USER_AGENT);
    let builder = match transport.proxy_for(url) {
        Some(proxy) => builder.proxy(
            reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| format!("http_proxy {proxy}: not usable ({e})"))?,
        ),
        None => builder,
    };
    if url.scheme() == "https" {
        let tls = crate::shell::tls_roots::client_config(transport.ca_file.as_deref())?;
        Ok(builder.tls_backend_preconfigured(tls))
    } else {
        Ok(builder.tls_certs_only(std::iter::empty()))
    }
}

fn build_error(e: &reqwest::Error) -> String {
    format!("HTTP client: cannot build it ({e})")
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

/// Build the client for `url`. The TLS roots (`tls_ca_file` or the system bundle) are loaded only
/// for `https://` URLs: a plain-HTTP fire does not pay for parsing the CA bundle.
pub fn shim_client(
    url: &url::Url,
    timeout: Duration,
    transport: &Transport,
) -> Result<HttpClient, String> {
    let inner = builder(url, timeout, transport)?
        .build()
        .map_err(|e| build_error(&e))?;
    Ok(HttpClient { inner })
}

impl HttpClient {
    /// The underlying client (shared, not copied): the trace export reuses it when it reaches the
    /// collector the same way (`shell::otel::export`).
    pub fn shared(&self) -> Client {
        self.inner.clone()
    }

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
        let none = Transport::default();
        let plain = url::Url::parse("http://127.0.0.1:9/").unwrap();
        assert!(shim_client(&plain, Duration::from_secs(1), &none).is_ok());
        let tls = url::Url::parse("https://example.invalid/").unwrap();
        assert!(shim_client(&tls, Duration::from_secs(1), &none).is_ok());
    }

    #[test]
    fn the_configured_proxy_is_never_used_for_loopback() {
        let transport = Transport {
            proxy: Some(url::Url::parse("http://10.0.0.1:3128").unwrap()),
            ca_file: None,
        };
        for loopback in ["http://127.0.0.1:9/", "http://localhost/", "https://[::1]/"] {
            let url = url::Url::parse(loopback).unwrap();
            assert_eq!(transport.proxy_for(&url), None, "{loopback}");
        }
        let remote = url::Url::parse("https://api.example.com/").unwrap();
        assert_eq!(transport.proxy_for(&remote), transport.proxy.as_ref());
    }
}
