//! What a worker publishes for one poll of one source, and what the hub reads back:
//! the matched posts with their brands and verdicts, and the cursor the poll reached.
//!
//! One poll is one message, or several parts when it would not fit the server's
//! payload limit (only the last part carries the cursor, so the hub commits it only
//! once every part before it was published). Every part has a deterministic
//! `Nats-Msg-Id`, so a worker that re-publishes after a lost ack is deduplicated by the
//! server. JSON, versioned by `v`; a message of another version is refused, not guessed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::post::{BrandMatch, Post};

/// The format's version: a hub refuses (and terminates) a message of another one.
pub const VERSION: u32 = 1;

/// The classifier's verdict on a post, as the worker's model gave it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub label: String,
    pub scores: Vec<(String, f32)>,
}

impl From<crate::classifier::Prediction> for Verdict {
    fn from(p: crate::classifier::Prediction) -> Self {
        Verdict {
            label: p.label,
            scores: p.scores,
        }
    }
}

impl From<Verdict> for crate::classifier::Prediction {
    fn from(v: Verdict) -> Self {
        crate::classifier::Prediction {
            label: v.label,
            scores: v.scores,
        }
    }
}

/// One matched post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub post: Post,
    pub brands: Vec<BrandMatch>,
    /// `None` when the worker's model failed on it: the hub classifies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// One part of one poll's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PollResult {
    pub v: u32,
    /// The `[[source]]` name.
    pub source: String,
    /// The host whose lease the worker held.
    pub host: String,
    pub worker: String,
    /// The worker process's random id ([`crate::cluster::lease::new_id`]): the hub
    /// commits the cursor only when `worker` and this id hold the host's lease.
    #[serde(default)]
    pub worker_id: String,
    /// The worker's model id (the verdicts are used only when the hub's is the same).
    pub model: String,
    /// When the worker published it (milliseconds since the epoch).
    pub published_ms: i64,
    /// 0-based part and the number of parts of this poll.
    pub part: u32,
    pub parts: u32,
    pub items: Vec<Item>,
    /// The cursor the poll reached (hex), on the last part only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a poll result: {0}")]
    Json(#[from] serde_json::Error),
    #[error("poll result version {0}, this hub reads version {VERSION}")]
    Version(u32),
    #[error("the cursor is not hex: {0}")]
    Cursor(#[from] hex::FromHexError),
    #[error("part {part} of {parts}")]
    Part { part: u32, parts: u32 },
}

impl PollResult {
    pub fn decode(bytes: &[u8]) -> Result<PollResult, WireError> {
        let r: PollResult = serde_json::from_slice(bytes)?;
        if r.v != VERSION {
            return Err(WireError::Version(r.v));
        }
        if r.parts == 0 || r.part >= r.parts {
            return Err(WireError::Part {
                part: r.part,
                parts: r.parts,
            });
        }
        if let Some(c) = &r.cursor {
            hex::decode(c)?;
        }
        Ok(r)
    }

    pub fn cursor_bytes(&self) -> Option<Vec<u8>> {
        self.cursor.as_deref().and_then(|c| hex::decode(c).ok())
    }

    /// The deterministic `Nats-Msg-Id`: the same poll result (source, the cursor it
    /// started from and the one it reached, the part) always gets the same id.
    pub fn msg_id(&self, from: Option<&[u8]>, reached: Option<&[u8]>) -> String {
        let mut h = Sha256::new();
        for part in [
            self.source.as_bytes(),
            from.unwrap_or(b"-"),
            reached.unwrap_or(b"-"),
        ] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update(self.part.to_be_bytes());
        h.update(self.parts.to_be_bytes());
        let d = h.finalize();
        hex::encode(&d[..16])
    }
}

/// What one poll becomes before it is split: everything but the items' split.
pub struct Poll<'a> {
    pub source: &'a str,
    pub host: &'a str,
    pub worker: &'a str,
    pub worker_id: &'a str,
    pub model: &'a str,
    pub published_ms: i64,
    pub cursor: Option<&'a [u8]>,
}

/// Splits one poll's items into parts whose JSON stays under `max_bytes` (an item
/// larger than that alone is cut to its first 64 KiB of text, rather than lost or
/// never published). Always at least one part, the last with the cursor.
pub fn split(poll: &Poll<'_>, items: Vec<Item>, max_bytes: usize) -> Vec<PollResult> {
    // room for the envelope (names, cursor) besides the items
    let envelope = 512
        + poll.source.len()
        + poll.host.len()
        + poll.worker.len()
        + poll.worker_id.len()
        + poll.model.len()
        + poll.cursor.map_or(0, |c| c.len() * 2);
    let budget = max_bytes.saturating_sub(envelope).max(1024);
    let mut groups: Vec<Vec<Item>> = vec![Vec::new()];
    let mut used = 0usize;
    for mut item in items {
        let mut size = serde_json::to_vec(&item).map_or(budget, |v| v.len());
        if size > budget {
            let cut: String = item.post.text.chars().take(16 * 1024).collect();
            item.post.text = cut;
            size = serde_json::to_vec(&item).map_or(budget, |v| v.len());
        }
        if used.saturating_add(size) > budget && groups.last().is_some_and(|g| !g.is_empty()) {
            groups.push(Vec::new());
            used = 0;
        }
        used = used.saturating_add(size);
        if let Some(g) = groups.last_mut() {
            g.push(item);
        }
    }
    let parts = u32::try_from(groups.len()).unwrap_or(u32::MAX);
    groups
        .into_iter()
        .enumerate()
        .map(|(i, items)| {
            let part = u32::try_from(i).unwrap_or(u32::MAX);
            PollResult {
                v: VERSION,
                source: poll.source.to_string(),
                host: poll.host.to_string(),
                worker: poll.worker.to_string(),
                worker_id: poll.worker_id.to_string(),
                model: poll.model.to_string(),
                published_ms: poll.published_ms,
                part,
                parts,
                items,
                cursor: (part + 1 == parts)
                    .then(|| poll.cursor.map(hex::encode))
                    .flatten(),
            }
        })
        .collect()
}

/// A host as a key or subject token: hex, so that no two hosts ever share one and no
/// character of a host (`.`, `:`, `[`) can break a NATS subject or KV key.
pub fn host_key(host: &str) -> String {
    format!("h{}", hex::encode(host.as_bytes()))
}

/// The host a [`host_key`] was made from.
pub fn host_of_key(key: &str) -> Option<String> {
    let bytes = hex::decode(key.strip_prefix('h')?).ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, text: &str) -> Item {
        let post: Post = serde_json::from_value(serde_json::json!({
            "id": id, "url": "https://x.test/1", "text": text,
            "created_at": "2026-11-30T10:00:00Z", "source": "rss",
        }))
        .unwrap();
        Item {
            post,
            brands: Vec::new(),
            verdict: Some(Verdict {
                label: "negative".into(),
                scores: vec![("negative".into(), 0.9)],
            }),
        }
    }

    fn poll(cursor: Option<&[u8]>) -> Poll<'_> {
        Poll {
            source: "reviews",
            host: "127.0.0.1:8080",
            worker: "w1",
            worker_id: "0123456789abcdef",
            model: "m",
            published_ms: 1,
            cursor,
        }
    }

    #[test]
    fn a_poll_splits_under_the_limit_and_only_the_last_part_has_the_cursor() {
        let items: Vec<Item> = (0..50)
            .map(|i| item(&format!("rss:{i}"), &"word ".repeat(200)))
            .collect();
        let parts = split(&poll(Some(b"cur")), items, 8 * 1024);
        assert!(parts.len() > 5, "{}", parts.len());
        let mut n = 0;
        for (i, p) in parts.iter().enumerate() {
            let bytes = serde_json::to_vec(p).unwrap();
            assert!(bytes.len() <= 8 * 1024, "part {i}: {}", bytes.len());
            let back = PollResult::decode(&bytes).unwrap();
            assert_eq!(back.cursor.is_some(), i + 1 == parts.len());
            n += back.items.len();
        }
        assert_eq!(n, 50);
        assert_eq!(parts.last().unwrap().cursor_bytes().unwrap(), b"cur");
        // an empty poll is still one part, carrying the cursor
        let parts = split(&poll(Some(b"c")), Vec::new(), 1 << 20);
        assert_eq!((parts.len(), parts[0].cursor.as_deref()), (1, Some("63")));
    }

    #[test]
    fn an_item_larger_than_a_part_is_cut_not_lost() {
        let parts = split(
            &poll(None),
            vec![item("rss:big", &"x".repeat(200_000))],
            64 * 1024,
        );
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].items[0].post.text.len(), 16 * 1024);
    }

    #[test]
    fn message_ids_are_deterministic_and_distinct() {
        let p = &split(&poll(Some(b"2")), Vec::new(), 1 << 20)[0];
        let a = p.msg_id(Some(b"1"), Some(b"2"));
        assert_eq!(a, p.msg_id(Some(b"1"), Some(b"2")));
        assert_ne!(a, p.msg_id(Some(b"2"), Some(b"3")));
        assert_ne!(a, p.msg_id(None, Some(b"2")));
    }

    #[test]
    fn hostile_messages_are_refused() {
        assert!(PollResult::decode(b"{").is_err());
        let mut p = split(&poll(None), Vec::new(), 1 << 20).remove(0);
        p.v = 9;
        assert!(matches!(
            PollResult::decode(&serde_json::to_vec(&p).unwrap()),
            Err(WireError::Version(9))
        ));
        p.v = VERSION;
        p.part = 3;
        assert!(PollResult::decode(&serde_json::to_vec(&p).unwrap()).is_err());
        p.part = 0;
        p.cursor = Some("zz".into());
        assert!(PollResult::decode(&serde_json::to_vec(&p).unwrap()).is_err());
    }

    #[test]
    fn host_keys_never_collide_and_round_trip() {
        let hosts = ["[::1]:8080", "__1__8080", "a.b", "a_b", "127.0.0.1:80"];
        let keys: std::collections::HashSet<String> = hosts.iter().map(|h| host_key(h)).collect();
        assert_eq!(keys.len(), hosts.len());
        for h in hosts {
            let k = host_key(h);
            assert!(k.chars().all(|c| c.is_ascii_alphanumeric()), "{k}");
            assert_eq!(host_of_key(&k).as_deref(), Some(h));
        }
    }
}
