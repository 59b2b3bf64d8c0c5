//! One HTTP request to one webhook, and what its answer means for the alert:
//! 2xx delivered; 408, 429, 5xx and network errors retried (429 and 503 after the
//! server's `Retry-After`); any other 4xx permanent.
//!
//! Never retries and never touches the outbox (the sender does both), and never
//! puts the URL in an error or a log line: for chat services the URL is the
//! credential.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};

use crate::alerts::send::{FailureKind, SendError};

/// The most of an answer's body kept for the log and `overhear test-webhook`.
const MAX_ANSWER: usize = 2048;
/// The longest `Retry-After` honoured as given; longer ones are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A reqwest client for webhooks: no redirects (a redirect would carry the body,
/// and a chat URL's secret path, somewhere else), rustls, the given timeout.
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
}

/// POSTs `body` (JSON) with `headers` added; the server's status and the start of
/// its answer on success.
pub async fn post(
    client: &reqwest::Client,
    url: &url::Url,
    name: &str,
    body: Vec<u8>,
    mut headers: HeaderMap,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("overhear/", env!("CARGO_PKG_VERSION"))),
    );
    let resp = client
        .post(url.clone())
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| network_error(name, e))?;
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let text = match resp.bytes().await {
        Ok(b) => answer_text(&b),
        Err(e) if status.is_success() => format!("(answer unreadable: {})", e.without_url()),
        Err(_) => String::new(),
    };
    let answer = if text.is_empty() {
        status.to_string()
    } else {
        format!("{status}: {text}")
    };
    if status.is_success() {
        return Ok(answer);
    }
    let code = status.as_u16();
    let kind = match code {
        408 | 429 => FailureKind::Transient,
        400..=499 => FailureKind::Permanent,
        _ => FailureKind::Transient,
    };
    let message = match code {
        429 => format!(
            "webhook {name} is rate limited ({answer}){}",
            retry_after.map_or(String::new(), |d| format!(
                "; retrying after {}",
                humantime::format_duration(d)
            ))
        ),
        401 | 403 | 404 | 410 => format!(
            "webhook {name} refused the message ({answer}): the URL may be revoked or wrong; check what {name}'s url_env/url_file holds"
        ),
        _ => format!("webhook {name} answered {answer}"),
    };
    Err(SendError {
        kind,
        message,
        retry_after: if matches!(code, 429 | 503) {
            retry_after
        } else {
            None
        },
    })
}

fn network_error(name: &str, e: reqwest::Error) -> SendError {
    let why = if e.is_timeout() {
        "no answer in time".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    // reqwest's own message names the URL: drop it (its sources, hyper's and the
    // socket's errors, do not)
    let e = e.without_url();
    let mut message = format!("webhook {name}: {why}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    SendError {
        kind: FailureKind::Transient,
        message,
        retry_after: None,
    }
}

/// The start of an answer's body, on one line, printable.
fn answer_text(body: &[u8]) -> String {
    let cut = &body[..body.len().min(MAX_ANSWER)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `Retry-After` as seconds or an HTTP date, as a wait from `now` (at most a day).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    let wait = if let Ok(secs) = v.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        Duration::try_from_secs_f64(secs).ok()?
    } else {
        let at: DateTime<Utc> = httpdate::parse_http_date(v).ok()?.into();
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn retry_after_reads_seconds_and_dates_and_caps_them() {
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn answers_are_cut_and_kept_on_one_line() {
        assert_eq!(answer_text(b"invalid_token\n"), "invalid_token");
        assert_eq!(answer_text(b"a\r\nb"), "a  b");
        assert_eq!(answer_text(&[b'x'; 5000]).len(), MAX_ANSWER);
    }
}
