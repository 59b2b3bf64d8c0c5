//! One request to a network's API, as the reply clients send it: the status, the
//! headers and the body (capped at [`BODY_CAP`]) come back whatever the status, so
//! that a refusal carries the network's own words. [`Answer::into_ok`] turns a
//! non-2xx answer into a [`PostError`]: 408, 429 and 5xx (and any network error)
//! are worth another attempt, after the server's `Retry-After`; any other status is
//! final. Messages never carry a secret: URLs are shown without their secret query
//! parameters, and each client's secrets are cut out of whatever a server echoes.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::PostError;
use crate::sources::fetch::{rate_limit_wait, retry_after, shown};

/// The largest answer read: a reply's answer is a few KB.
pub(crate) const BODY_CAP: usize = 1024 * 1024;

/// What a server answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Sends `req`; `what` names the call in messages (`Mastodon POST /api/v1/statuses`).
/// A network error, a timeout or an answer larger than [`BODY_CAP`] is a
/// [`PostError::Retry`]: whether the server acted is unknown, and each client's key
/// (or its look before a retry) makes another attempt harmless.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    what: &str,
    secrets: &[&str],
) -> Result<Answer, PostError> {
    let retry = |why: String| PostError::Retry {
        why: scrub(&why, secrets),
        after: None,
    };
    let mut resp = req
        .send()
        .await
        .map_err(|e| retry(format!("{what}: {}", request_error(e))))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > BODY_CAP {
                    return Err(retry(format!(
                        "{what}: HTTP {status}, an answer larger than {BODY_CAP} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(retry(format!(
                    "{what}: HTTP {status}, the answer was cut off: {}",
                    request_error(e)
                )))
            }
        }
    }
    Ok(Answer {
        status,
        headers,
        body,
    })
}

impl Answer {
    pub fn is_ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The wait the server asked for: `Retry-After`, else an exhausted
    /// `x-ratelimit-*` window.
    pub fn wait(&self) -> Option<Duration> {
        retry_after(&self.headers).or_else(|| rate_limit_wait(&self.headers))
    }

    /// The network's own error words in the body (Mastodon `error`, XRPC
    /// `error`/`message`, Stack Exchange `error_name`/`error_message`), else the
    /// start of a plain-text body.
    pub fn message(&self) -> Option<String> {
        error_words(&self.body)
    }

    /// `self` when 2xx, else the error: 408, 429 and 5xx are
    /// [`PostError::Retry`] (after the server's wait), any other status
    /// [`PostError::Refused`].
    pub fn into_ok(self, what: &str, secrets: &[&str]) -> Result<Answer, PostError> {
        if self.is_ok() {
            return Ok(self);
        }
        let status = self.status;
        let why = match self.message() {
            Some(m) => format!("{what}: HTTP {status}: {m}"),
            None => format!("{what}: HTTP {status}"),
        };
        let why = scrub(&why, secrets);
        Err(if matches!(status, 408 | 429 | 500..=599) {
            PostError::Retry {
                why,
                after: self.wait(),
            }
        } else {
            PostError::Refused {
                status: Some(status),
                why,
            }
        })
    }

    /// The body as `T`. A 2xx answer that does not read is worth another attempt:
    /// the key each client sends makes that harmless.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, PostError> {
        serde_json::from_slice(&self.body).map_err(|e| PostError::Retry {
            why: format!(
                "{what}: HTTP {}, an answer that does not read: {e}",
                self.status
            ),
            after: None,
        })
    }
}

/// The error words of a JSON error body, or the start of a short plain-text one.
fn error_words(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Words {
        #[serde(default)]
        error: Option<serde_json::Value>,
        #[serde(default)]
        error_description: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        error_name: Option<String>,
        #[serde(default)]
        error_message: Option<String>,
    }
    if let Ok(w) = serde_json::from_slice::<Words>(body) {
        let error = w.error.as_ref().and_then(|e| match e {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        });
        let parts: Vec<String> = [
            w.error_name,
            w.error_message,
            error,
            w.error_description,
            w.message,
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
        if !parts.is_empty() {
            return Some(cut(&parts.join(": "), 500));
        }
        return None;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let html = text.starts_with('<');
    (!text.is_empty() && !html).then(|| cut(text, 300))
}

/// At most `max` characters of `s`.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `text` with every secret in `secrets` replaced by `REDACTED`.
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(*s, "REDACTED");
    }
    out
}

/// A request error with its causes, its URL shown without secrets.
fn request_error(e: reqwest::Error) -> String {
    let url = e.url().map(shown);
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    if timeout {
        text.push_str(" (timed out)");
    }
    match url {
        Some(u) => format!("{u}: {text}"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_words_are_each_networks_own() {
        assert_eq!(
            error_words(br#"{"error":"The access token is invalid"}"#).as_deref(),
            Some("The access token is invalid")
        );
        assert_eq!(
            error_words(br#"{"error":"ExpiredToken","message":"Token has expired"}"#).as_deref(),
            Some("ExpiredToken: Token has expired")
        );
        assert_eq!(
            error_words(
                br#"{"error_id":403,"error_name":"access_denied","error_message":"no write access"}"#
            )
            .as_deref(),
            Some("access_denied: no write access")
        );
        assert_eq!(error_words(b"<html>oops</html>"), None);
        assert_eq!(error_words(b"bad gateway").as_deref(), Some("bad gateway"));
    }

    #[test]
    fn secrets_are_cut_out_of_messages() {
        assert_eq!(
            scrub("token s3cr3t-value is bad", &["s3cr3t-value"]),
            "token REDACTED is bad"
        );
    }
}
