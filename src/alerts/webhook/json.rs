//! `kind = "json"`: the versioned JSON body, signed per the Standard Webhooks
//! specification (<https://www.standardwebhooks.com/>):
//!
//! - `webhook-id`: `msg_` and 32 hex digits derived from the outbox key, so every
//!   retry of one alert carries the same id and receivers can deduplicate;
//! - `webhook-timestamp`: seconds since the epoch when this attempt was made;
//! - `webhook-signature`: `v1,` and the base64 HMAC-SHA256, keyed with the
//!   base64-decoded secret after its `whsec_` prefix, of `{id}.{timestamp}.{body}`.
//!
//! The body (version 1) is documented in docs/alerts.md, "Chat and webhooks". One request per
//! outbox entry: never a batch, so an id stands for exactly one alert.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::alerts::item::{OutboxEntry, Payload};
use crate::alerts::render::AlertAction;
use crate::store::StoredMention;

/// The body's `version`: bumped only when a field changes meaning or goes away.
pub const BODY_VERSION: u32 = 1;

/// Why a signing secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("the signing secret is not base64 (expected \"whsec_\" followed by base64, e.g. from `openssl rand -base64 32`)")]
    NotBase64,
    #[error("the signing secret is {0} bytes once decoded: use 24 to 64 random bytes")]
    Length(usize),
}

/// The HMAC key of a Standard Webhooks secret (`whsec_` + base64).
pub fn signing_key(secret: &str) -> Result<Vec<u8>, SecretFormatError> {
    let b64 = secret.trim();
    let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
    let key = B64.decode(b64).map_err(|_| SecretFormatError::NotBase64)?;
    if !(24..=64).contains(&key.len()) {
        return Err(SecretFormatError::Length(key.len()));
    }
    Ok(key)
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: new_from_slice cannot fail for it
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-id` of an outbox entry: the same for every retry.
pub fn webhook_id(key: &str) -> String {
    format!("msg_{}", hex::encode(&Sha256::digest(key.as_bytes())[..16]))
}

/// The alert kind a body carries in `kind`.
fn kind(entry: &OutboxEntry) -> &'static str {
    match &entry.item.payload {
        Payload::Mention(_) if crate::alerts::rules::is_backlog(entry) => "mention.backlog",
        Payload::Mention(_) if entry.delivery() == crate::alerts::Delivery::Digest => {
            "mention.digest"
        }
        Payload::Mention(_) => "mention",
        Payload::DigestTick { .. } => "digest.empty",
        Payload::Summary(_) => "summary",
        Payload::Spike(_) => "spike",
        Payload::SourceHealth(_) => "source_health",
        Payload::DeliveryFailed(_) => "delivery_failed",
    }
}

/// The body for one entry. `stored` is the mention as the store has it now (as
/// `overhear mentions show --json` prints it); without it (forgotten by retention)
/// the outbox's copy is sent with its id. `actions` are the mention's one-click
/// links for this destination (none without `[daemon] public_url`).
pub fn body(
    entry: &OutboxEntry,
    stored: Option<StoredMention>,
    actions: &[(AlertAction, String)],
    now: DateTime<Utc>,
) -> Value {
    let item = &entry.item;
    let mut v = json!({
        "version": BODY_VERSION,
        "id": webhook_id(&item.key),
        "kind": kind(entry),
        "created_at": item.created_at.to_rfc3339(),
        "sent_at": now.to_rfc3339(),
        "brand": item.brand,
    });
    match &item.payload {
        Payload::Mention(a) => {
            let mention = match stored {
                Some(m) => serde_json::to_value(m).unwrap_or(Value::Null),
                None => {
                    let mut m = serde_json::to_value(&a.mention).unwrap_or(Value::Null);
                    if let Some(o) = m.as_object_mut() {
                        o.insert(
                            "id".into(),
                            json!(crate::store::mention_id(&a.mention.post.id)),
                        );
                    }
                    m
                }
            };
            v["alert"] = json!({
                "label": a.label,
                "probability": a.probability,
                "threshold": a.threshold,
                "reason": a.reason,
            });
            v["mention"] = mention;
            v["actions"] = actions
                .iter()
                .map(|(a, url)| json!({"action": a.as_str(), "label": a.label(), "url": url}))
                .collect();
        }
        Payload::DigestTick { slot } => v["digest"] = json!({"slot": slot.to_rfc3339()}),
        Payload::Summary(s) => v["summary"] = serde_json::to_value(s).unwrap_or(Value::Null),
        Payload::Spike(s) => v["spike"] = serde_json::to_value(s).unwrap_or(Value::Null),
        Payload::SourceHealth(h) => {
            v["source_health"] = serde_json::to_value(h).unwrap_or(Value::Null)
        }
        Payload::DeliveryFailed(f) => {
            v["delivery_failed"] = serde_json::to_value(f).unwrap_or(Value::Null)
        }
    }
    v
}

/// The body of `overhear test-webhook`.
pub fn test_body(now: DateTime<Utc>) -> Value {
    json!({
        "version": BODY_VERSION,
        "id": format!("msg_test_{}", now.timestamp_millis()),
        "kind": "test",
        "created_at": now.to_rfc3339(),
        "sent_at": now.to_rfc3339(),
        "brand": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_like_the_specifications_reference_example() {
        let key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = signature(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn bad_secrets_are_explained() {
        assert_eq!(signing_key("whsec_!!"), Err(SecretFormatError::NotBase64));
        assert_eq!(signing_key("whsec_YWJj"), Err(SecretFormatError::Length(3)));
    }

    #[test]
    fn a_mention_body_carries_its_action_links() {
        use crate::alerts::item::{Delivery, MentionAlert, OutboxItem};
        let now = Utc::now();
        let mention = crate::post::Mention {
            post: crate::matcher::tests::post("acme broke my order"),
            brands: vec![],
            sentiment: None,
            first_seen: now,
            updated_at: None,
        };
        let entry = OutboxEntry::new(OutboxItem {
            key: "mention:negative|x|webhook:h".into(),
            to: "webhook:h".into(),
            brand: Some("Acme".into()),
            delivery: Delivery::Direct,
            not_before: now,
            created_at: now,
            payload: Payload::Mention(Box::new(MentionAlert {
                mention,
                brand: "Acme".into(),
                label: "negative".into(),
                probability: 0.9,
                threshold: 0.8,
                reason: "r".into(),
            })),
        });
        let links = [
            (AlertAction::Take, "https://o.example/a/1".to_string()),
            (
                AlertAction::NotNegative,
                "https://o.example/a/2".to_string(),
            ),
        ];
        let v = body(&entry, None, &links, now);
        assert_eq!(
            v["actions"],
            json!([
                {"action": "ack", "label": "I'll take it", "url": "https://o.example/a/1"},
                {"action": "not-negative", "label": "Not negative", "url": "https://o.example/a/2"},
            ])
        );
        assert_eq!(body(&entry, None, &[], now)["actions"], json!([]));
    }

    #[test]
    fn the_id_is_stable_per_outbox_key() {
        assert_eq!(
            webhook_id("mention:negative|x|webhook:h"),
            webhook_id("mention:negative|x|webhook:h")
        );
        assert_ne!(webhook_id("a"), webhook_id("b"));
        assert_eq!(webhook_id("a").len(), 36);
    }
}
