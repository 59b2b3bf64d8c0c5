//! What the outbox holds: one [`OutboxItem`] per (alert subject, recipient, rule).
//!
//! Plain serialisable data shared by the rules, the renderer, the sender and the
//! store's outbox: no behaviour beyond keys and states, and never a change of shape
//! without a thought for entries already stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::post::Mention;

/// When an item may be sent, and with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Delivery {
    /// Sent when due; instant items of one (recipient, brand) pending at the same time
    /// go in one email when `batch` is true.
    Instant { batch: bool },
    /// Sent when due, all due digest items of one (recipient, brand) in one email.
    Digest,
    /// Sent alone, never capped or deferred (summaries, spikes, source health).
    Direct,
}

/// A mention that passed a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MentionAlert {
    pub mention: Mention,
    pub brand: String,
    /// The label that alerted and its probability.
    pub label: String,
    pub probability: f32,
    pub threshold: f32,
    /// Why it alerted, in words.
    pub reason: String,
}

/// Counts for a summary period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub total: u64,
    /// (label, count), most frequent first.
    pub by_sentiment: Vec<(String, u64)>,
    /// (source, count), most frequent first.
    pub by_source: Vec<(String, u64)>,
}

impl Tally {
    pub fn count(&self, label: &str) -> u64 {
        self.by_sentiment
            .iter()
            .find(|(l, _)| l.eq_ignore_ascii_case(label))
            .map_or(0, |(_, n)| *n)
    }
}

/// A daily or weekly summary of one brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub brand: String,
    pub period: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub current: Tally,
    pub previous: Tally,
    /// The most engaged negative and positive mentions (a few each).
    pub top_negative: Vec<Mention>,
    pub top_positive: Vec<Mention>,
    /// How fast the brand answered negative mentions in public, this period and the
    /// previous one (when its threads are watched: `accounts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered: Option<Answered>,
}

/// [`Summary::answered`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answered {
    pub current: crate::store::ResponseStats,
    pub previous: crate::store::ResponseStats,
}

/// Negative mentions of a brand above its usual rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spike {
    pub brand: String,
    pub last_hour: u64,
    pub baseline_per_hour: f64,
    pub factor: f64,
}

/// A source failing for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub source: String,
    pub failing_since: DateTime<Utc>,
    pub last_error: String,
}

/// What an item is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Payload {
    Mention(Box<MentionAlert>),
    /// A digest slot that is sent even when no mention is in it.
    DigestTick {
        slot: DateTime<Utc>,
    },
    Summary(Box<Summary>),
    Spike(Spike),
    SourceHealth(SourceHealth),
    /// An alert that could not be delivered, told to the admins.
    DeliveryFailed(DeliveryFailed),
}

/// An alert given up on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFailed {
    /// The outbox key of the failed alert.
    pub key: String,
    pub to: String,
    pub brand: Option<String>,
    pub error: String,
}

/// One alert to one recipient, as queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// `rule|subject|recipient`: enqueuing an item whose key exists is a no-op.
    pub key: String,
    pub to: String,
    pub brand: Option<String>,
    pub delivery: Delivery,
    /// Not sent before this.
    pub not_before: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub payload: Payload,
}

impl OutboxItem {
    /// A short id for the command line (`overhear outbox retry ID`): the first 12 hex
    /// digits of the key's SHA-256.
    pub fn short_id(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(self.key.as_bytes())[..6])
    }

    /// The outbox key of (rule, subject, recipient); the recipient is compared case-insensitively.
    pub fn make_key(rule: &str, subject: &str, to: &str) -> String {
        format!("{rule}|{subject}|{}", to.trim().to_lowercase())
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    Pending,
    Sent,
    Failed,
}

/// An item with its delivery state, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub item: OutboxItem,
    pub state: OutboxState,
    pub attempts: u32,
    /// The next attempt (initially `item.not_before`).
    pub next_attempt: DateTime<Utc>,
    pub first_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Set when a rate cap or quiet hours moved an instant item into a digest.
    #[serde(default)]
    pub folded: bool,
}

impl OutboxEntry {
    pub fn new(item: OutboxItem) -> Self {
        OutboxEntry {
            next_attempt: item.not_before,
            item,
            state: OutboxState::Pending,
            attempts: 0,
            first_attempt: None,
            last_error: None,
            sent_at: None,
            folded: false,
        }
    }

    /// How it is delivered now (a folded instant item goes with the digest).
    pub fn delivery(&self) -> Delivery {
        if self.folded {
            Delivery::Digest
        } else {
            self.item.delivery
        }
    }
}
