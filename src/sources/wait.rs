//! Waits a server asks for (`Retry-After`, `x-ratelimit-*`, Stack Exchange `backoff`),
//! parsed defensively and clamped to [`MAX_SERVER_WAIT`]: whatever a broken or hostile
//! server sends (`inf`, `1e20`, a date in year 9999), the result is a sane duration
//! and never a panic.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};

/// The longest wait a server may impose: a day. A larger (or absurd) value is taken
/// as a day, so that a broken or hostile server cannot park a source for good.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(86_400);

/// A server-given wait in seconds, made safe: not a number or negative is zero, more
/// than [`MAX_SERVER_WAIT`] (infinity included) is [`MAX_SERVER_WAIT`].
pub fn server_wait_f64(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs)
        .unwrap_or(MAX_SERVER_WAIT)
        .min(MAX_SERVER_WAIT)
}

/// A server-given wait in whole seconds, clamped to [`MAX_SERVER_WAIT`].
pub fn server_wait_secs(secs: u64) -> Duration {
    Duration::from_secs(secs).min(MAX_SERVER_WAIT)
}

/// The time until `when`, clamped to `0..=MAX_SERVER_WAIT`.
fn wait_until(when: DateTime<Utc>) -> Duration {
    let ms = when
        .timestamp_millis()
        .saturating_sub(Utc::now().timestamp_millis());
    server_wait_f64(ms as f64 / 1000.0)
}

/// `Retry-After`: seconds or an HTTP date, clamped to [`MAX_SERVER_WAIT`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
        // more digits than a u64 holds is still "very long"
        return Some(v.parse::<u64>().map_or(MAX_SERVER_WAIT, server_wait_secs));
    }
    let when = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some(wait_until(when))
}

/// `x-ratelimit-remaining: 0` with `x-ratelimit-reset` (seconds, as Reddit; or a
/// timestamp, as Mastodon): how long until the window resets, clamped to
/// [`MAX_SERVER_WAIT`]. `inf`, `NaN` and `1e20` are parsed, never a panic.
pub fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let remaining: f64 = headers
        .get("x-ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // NaN is not "some left"
    if remaining >= 1.0 {
        return None;
    }
    let reset = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    if let Ok(secs) = reset.parse::<f64>() {
        // a small number is "seconds from now"; a large one an epoch timestamp
        if secs > 1_000_000_000.0 && secs < 1e12 {
            let now = Utc::now().timestamp() as f64;
            return Some(server_wait_f64(secs - now));
        }
        return Some(server_wait_f64(secs));
    }
    let when = DateTime::parse_from_rfc3339(reset)
        .ok()?
        .with_timezone(&Utc);
    Some(wait_until(when))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0.0".parse().unwrap());
        h.insert("x-ratelimit-reset", "525".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(525)));
        h.insert("x-ratelimit-remaining", "599.0".parse().unwrap());
        assert_eq!(rate_limit_wait(&h), None);
        h.insert(header::RETRY_AFTER, "120".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(120)));
    }

    #[test]
    fn absurd_waits_are_clamped() {
        for reset in [
            "1e20",
            "inf",
            "-inf",
            "NaN",
            "1e308",
            "-1",
            "99999999999999999999",
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-ratelimit-remaining", "0".parse().unwrap());
            h.insert("x-ratelimit-reset", reset.parse().unwrap());
            let w = rate_limit_wait(&h).unwrap();
            assert!(w <= MAX_SERVER_WAIT, "{reset}: {w:?}");
        }
        for ra in [
            "1000000000000000",
            "184467440737095516150",
            "Fri, 31 Dec 9999 23:59:59 GMT",
        ] {
            let mut h = HeaderMap::new();
            h.insert(header::RETRY_AFTER, ra.parse().unwrap());
            assert_eq!(retry_after(&h), Some(MAX_SERVER_WAIT), "{ra}");
        }
    }
}
