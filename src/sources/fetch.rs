//! Polite HTTP for every source: conditional GET, Retry-After and rate-limit headers,
//! a body size cap enforced while streaming, request and connect timeouts, errors by
//! status code, HTML error pages served with 200 detected, charsets, and at most one
//! request at a time per host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use url::Url;

pub use super::redact::shown;
pub use super::wait::{
    rate_limit_wait, retry_after, server_wait_f64, server_wait_secs, MAX_SERVER_WAIT,
};
use super::SourceError;

/// HTTP limits shared by every source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Largest response body read; larger ones fail the poll with `TooLarge`.
    pub body_cap: u64,
    pub connect_timeout: Duration,
    /// Whole request, body included.
    pub request_timeout: Duration,
    /// Host names pinned to addresses, bypassing DNS (tests, split-horizon set-ups).
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_cap: 5 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            resolve: Vec::new(),
        }
    }
}

/// ETag / Last-Modified of the last full response from one URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What a body is expected to be: an HTML page where this was expected is an error page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Json,
    Feed,
}

/// A response read in full (within the cap).
#[derive(Debug)]
pub struct Response {
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Validators to send next time.
    pub validators: Validators,
    /// The server asked us to wait at least this long before the next request
    /// (rate-limit headers saying the window is used up).
    pub wait_hint: Option<Duration>,
}

impl Response {
    /// The body as UTF-8; invalid bytes become U+FFFD rather than failing the poll.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; a parse error (a body cut off, an error page) is `Malformed`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, SourceError> {
        serde_json::from_str(&self.text())
            .map_err(|e| SourceError::Malformed(format!("{}: invalid JSON: {e}", shown(&self.url))))
    }

    /// The body transcoded to UTF-8 for the feed parser: the charset comes from the
    /// Content-Type header, else the XML declaration, else UTF-8; undecodable bytes become
    /// U+FFFD; the XML declaration is rewritten to say UTF-8.
    pub fn feed_utf8(&self) -> Vec<u8> {
        let from_header = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(charset_param);
        let label = from_header.or_else(|| xml_declared_encoding(&self.body));
        let encoding = label
            .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
            .unwrap_or(encoding_rs::UTF_8);
        let (text, _, _) = encoding.decode(&self.body);
        rewrite_xml_encoding(&text).into_bytes()
    }
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset")).then(|| v.trim().trim_matches('"').to_string())
    })
}

fn xml_declared_encoding(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let decl_end = head.find("?>")?;
    let decl = &head[..decl_end];
    let i = decl.find("encoding")?;
    let rest = decl[i + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let q = rest.chars().next()?;
    if q != '"' && q != '\'' {
        return None;
    }
    rest[1..].split(q).next().map(str::to_string)
}

fn rewrite_xml_encoding(text: &str) -> String {
    let trimmed = text.trim_start_matches('\u{feff}');
    if let Some(decl_end) = trimmed.find("?>").filter(|_| trimmed.starts_with("<?xml")) {
        let decl = &trimmed[..decl_end];
        if let Some(i) = decl.find("encoding") {
            let rest = &decl[i..];
            let end = rest
                .char_indices()
                .filter(|(_, c)| *c == '"' || *c == '\'')
                .nth(1)
                .map(|(j, _)| i + j + 1);
            if let Some(end) = end {
                return format!("{}encoding=\"UTF-8\"{}", &trimmed[..i], &trimmed[end..]);
            }
        }
    }
    trimmed.to_string()
}

/// Options of one GET.
#[derive(Debug, Default, Clone)]
pub struct GetOpts<'a> {
    pub validators: Option<&'a Validators>,
    pub bearer: Option<&'a str>,
    pub headers: Vec<(&'static str, String)>,
}

/// The shared HTTP client: cheap to clone.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    /// The same, following redirects into private addresses (`allow_private`).
    client_private: reqwest::Client,
    allow_private: bool,
    settings: HttpSettings,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Http {
    pub fn new(user_agent: &str, settings: HttpSettings) -> Result<Http, SourceError> {
        let build = |allow_private: bool| {
            let mut b = reqwest::Client::builder();
            for (host, addr) in &settings.resolve {
                b = b.resolve(host, *addr);
            }
            b.user_agent(user_agent)
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.request_timeout)
                .gzip(true)
                .redirect(super::redirect::policy(allow_private))
                .build()
                .map_err(|e| SourceError::Config(format!("HTTP client: {e}")))
        };
        Ok(Http {
            client: build(false)?,
            client_private: build(true)?,
            allow_private: false,
            settings,
            hosts: Arc::default(),
        })
    }

    /// This client, following redirects into loopback, link-local and private
    /// addresses too (`allow_private = true` on a `[[source]]`, for intranet feeds).
    pub fn allowing_private(&self) -> Http {
        Http {
            allow_private: true,
            ..self.clone()
        }
    }

    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    pub fn client(&self) -> &reqwest::Client {
        if self.allow_private {
            &self.client_private
        } else {
            &self.client
        }
    }

    /// The semaphore that keeps requests to one host one at a time.
    fn host_permit(&self, url: &Url) -> Arc<Semaphore> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut map = match self.hosts.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(1)))
            .clone()
    }

    /// GET `url`. `Ok(None)` is 304 Not Modified (not an error).
    pub async fn get(
        &self,
        url: &Url,
        expect: Expect,
        opts: GetOpts<'_>,
    ) -> Result<Option<Response>, SourceError> {
        let mut req = self.client().get(url.clone());
        req = req.header(
            header::ACCEPT,
            match expect {
                Expect::Json => "application/json",
                Expect::Feed => "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
            },
        );
        if let Some(v) = opts.validators {
            if let Some(e) = &v.etag {
                req = req.header(header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = &v.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
        }
        if let Some(token) = opts.bearer {
            req = req.bearer_auth(token);
        }
        // the caller's headers replace the defaults of the same name (an API's own
        // `Accept`); a value that cannot be a header is an error naming the header only
        let mut extra = HeaderMap::new();
        for (k, v) in &opts.headers {
            let name = header::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| SourceError::Config(format!("{k:?} is not a header name")));
            let value = header::HeaderValue::from_str(v).map_err(|_| {
                SourceError::Config(format!("the {k} header's value cannot be sent"))
            })?;
            extra.append(name?, value);
        }
        req = req.headers(extra);
        self.send(url, req, expect).await
    }

    /// Sends a prepared request under the host's permit and reads the capped body.
    pub async fn send(
        &self,
        url: &Url,
        req: reqwest::RequestBuilder,
        expect: Expect,
    ) -> Result<Option<Response>, SourceError> {
        let sem = self.host_permit(url);
        let _permit = sem
            .acquire()
            .await
            .map_err(|_| SourceError::Network("host limiter closed".into()))?;
        tracing::debug!(url = %shown(url), "GET");
        let mut resp = req.send().await.map_err(|e| request_error(url, e))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let wait_hint = rate_limit_wait(&headers);
        if status == 304 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            let retry_after = retry_after(&headers).or(wait_hint);
            return Err(match status {
                429 => SourceError::RateLimited { retry_after },
                401 => SourceError::Unauthorized(shown(url)),
                // a 403 that says when to come back is a rate limit (GitHub's primary
                // and secondary limits: `x-ratelimit-remaining: 0`, `Retry-After`)
                403 if retry_after.is_some() => SourceError::RateLimited { retry_after },
                403 => SourceError::Forbidden(shown(url)),
                404 | 410 => SourceError::NotFound(shown(url)),
                500..=599 => SourceError::Server {
                    status,
                    retry_after,
                },
                _ => SourceError::Status {
                    status,
                    url: shown(url),
                    detail: error_detail(resp).await,
                },
            });
        }
        let cap = self.settings.body_cap;
        if let Some(len) = resp.content_length() {
            if len > cap {
                return Err(SourceError::TooLarge { cap });
            }
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() as u64 + chunk.len() as u64 > cap {
                        return Err(SourceError::TooLarge { cap });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(SourceError::Timeout),
                Err(e) => {
                    return Err(SourceError::Truncated(format!(
                        "{}: body cut off after {} bytes: {}",
                        shown(url),
                        body.len(),
                        e.without_url()
                    )))
                }
            }
        }
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if is_html_page(&content_type, &body, expect) {
            return Err(SourceError::Malformed(format!(
                "{}: an HTML page ({content_type}) where {} was expected",
                shown(url),
                match expect {
                    Expect::Json => "JSON",
                    Expect::Feed => "a feed",
                }
            )));
        }
        let validators = Validators {
            etag: header_str(&headers, header::ETAG),
            last_modified: header_str(&headers, header::LAST_MODIFIED),
        };
        Ok(Some(Response {
            url: url.clone(),
            status,
            headers,
            body,
            validators,
            wait_hint,
        }))
    }
}

/// The first few KB of an error response's body.
async fn error_detail(mut resp: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() > 4096 {
            body.truncate(4096);
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn request_error(url: &Url, e: reqwest::Error) -> SourceError {
    if e.is_timeout() {
        return SourceError::Timeout;
    }
    // the cause says why (a redirect refused, a TLS failure); the URL is said once,
    // shown without its secrets
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    SourceError::Network(format!("{}: {text}", shown(url)))
}

/// An HTML document where JSON or a feed was expected (a login wall, a CDN error page).
fn is_html_page(content_type: &str, body: &[u8], expect: Expect) -> bool {
    let head = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    let html_body = head.starts_with("<!doctype html") || head.starts_with("<html");
    match expect {
        Expect::Json => content_type.contains("text/html") || html_body,
        // feeds are often served as text/html by sloppy servers: judge by the body
        Expect::Feed => html_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_and_xml_declaration() {
        assert_eq!(
            charset_param("text/xml; charset=\"ISO-8859-1\""),
            Some("ISO-8859-1".into())
        );
        assert_eq!(
            xml_declared_encoding(b"<?xml version=\"1.0\" encoding='iso-8859-1'?><rss/>"),
            Some("iso-8859-1".into())
        );
        assert_eq!(
            rewrite_xml_encoding("<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><rss/>"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>"
        );
    }

    #[test]
    fn the_content_type_charset_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/rss+xml; charset=ISO-8859-1".parse().unwrap(),
        );
        let r = Response {
            url: Url::parse("http://x/").unwrap(),
            status: 200,
            headers,
            body: b"<rss><channel><title>Inova\xe7\xe3o</title></channel></rss>".to_vec(),
            validators: Validators::default(),
            wait_hint: None,
        };
        assert_eq!(
            String::from_utf8(r.feed_utf8()).unwrap(),
            "<rss><channel><title>Inova\u{e7}\u{e3}o</title></channel></rss>"
        );
    }

    #[test]
    fn html_pages_are_detected() {
        assert!(is_html_page("text/html", b"{}", Expect::Json));
        assert!(is_html_page(
            "application/rss+xml",
            b"  <!DOCTYPE html><html>",
            Expect::Feed
        ));
        assert!(!is_html_page(
            "text/html",
            b"<?xml version='1.0'?><rss>",
            Expect::Feed
        ));
    }
}
