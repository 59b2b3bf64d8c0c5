//! Key encodings: byte order is the order queries scan in.

use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};

/// Length of a mention id (hex characters).
pub const ID_LEN: usize = 16;

/// A time as 8 bytes whose byte order is time order (millis, sign bit flipped).
pub fn ts(t: DateTime<Utc>) -> [u8; 8] {
    ((t.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// The inverse of [`ts`].
pub fn ts_decode(b: &[u8]) -> Option<DateTime<Utc>> {
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    let ms = (u64::from_be_bytes(arr) ^ (1 << 63)) as i64;
    Utc.timestamp_millis_opt(ms).single()
}

/// The id of a mention first seen as post `post_id`: 16 hex chars of SHA-256.
pub fn hash_id(post_id: &str, attempt: u32) -> String {
    let mut h = Sha256::new();
    h.update(post_id.as_bytes());
    if attempt > 0 {
        h.update(format!("#{attempt}").as_bytes());
    }
    let digest = h.finalize();
    hex::encode(&digest[..ID_LEN / 2])
}

/// Is `s` shaped like a mention id?
pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `prefix \0` for the brand and sentiment indexes (lowercased).
pub fn group(name: &str) -> Vec<u8> {
    let mut k = name.to_lowercase().into_bytes();
    k.push(0);
    k
}

/// `group ++ ts ++ id`.
pub fn grouped(name: &str, t: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut k = group(name);
    k.extend_from_slice(&ts(t));
    k.extend_from_slice(id.as_bytes());
    k
}

/// `ts ++ id`.
pub fn timed(t: DateTime<Utc>, id: &str) -> Vec<u8> {
    let mut k = ts(t).to_vec();
    k.extend_from_slice(id.as_bytes());
    k
}

/// Splits the `ts ++ id` tail of an index key.
pub fn split_tail(key: &[u8]) -> Option<(DateTime<Utc>, &str)> {
    if key.len() < 8 + ID_LEN {
        return None;
    }
    let tail = &key[key.len() - 8 - ID_LEN..];
    let t = ts_decode(&tail[..8])?;
    let id = std::str::from_utf8(&tail[8..]).ok()?;
    Some((t, id))
}

/// The canonical form of a post URL for dedup: http(s) only; scheme and host
/// lowercased, default port, fragment, `utm_*`/click-id parameters and a trailing
/// slash removed. `None` for what is not an absolute http(s) URL.
pub fn canonical_url(raw: &str) -> Option<String> {
    let mut u = url::Url::parse(raw.trim()).ok()?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return None;
    }
    let host = u.host_str()?.trim_end_matches('.').to_lowercase();
    u.set_fragment(None);
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !(k.starts_with("utm_") || k == "fbclid" || k == "gclid" || k == "mc_cid")
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let query = if kept.is_empty() {
        String::new()
    } else {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            s.append_pair(k, v);
        }
        format!("?{}", s.finish())
    };
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = u.path().trim_end_matches('/');
    Some(format!("{}://{host}{port}{path}{query}", u.scheme()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_sort_as_bytes() {
        let a = Utc.timestamp_millis_opt(-5).unwrap();
        let b = Utc.timestamp_millis_opt(3).unwrap();
        let c = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
        assert!(ts(a) < ts(b) && ts(b) < ts(c));
        assert_eq!(ts_decode(&ts(c)), Some(c));
        assert_eq!(ts_decode(&ts(a)), Some(a));
    }

    #[test]
    fn urls_normalise() {
        let c = |s| canonical_url(s).unwrap();
        assert_eq!(
            c("HTTPS://Example.COM:443/a/b/?utm_source=x&id=3&UTM_medium=y#frag"),
            "https://example.com/a/b?id=3"
        );
        assert_eq!(c("https://example.com/"), "https://example.com");
        assert_eq!(c("https://example.com"), "https://example.com");
        assert_eq!(c("http://example.com:8080/x"), "http://example.com:8080/x");
        assert_eq!(canonical_url("mailto:a@b.c"), None);
        assert_eq!(canonical_url("/relative"), None);
    }

    #[test]
    fn ids_are_short_hex() {
        let id = hash_id("hackernews:1", 0);
        assert!(is_id(&id), "{id}");
        assert_ne!(id, hash_id("hackernews:1", 1));
    }
}
