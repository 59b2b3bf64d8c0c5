//! What every stage passes on: a [`Post`] from a source, the [`BrandMatch`]es the
//! matcher found in it, the [`Sentiment`] the classifier gave it, and the
//! [`Mention`] the store keeps.
//!
//! Data only, depended on by every stage: it imports none of them, and a field's
//! serialised form stays readable by mentions already stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The source kinds whose posts have public threads (a reply can answer them).
pub const THREADED_KINDS: [&str; 10] = [
    "hackernews",
    "reddit",
    "mastodon",
    "bluesky",
    "lobsters",
    "stackexchange",
    "discourse",
    "github",
    "devto",
    "lemmy",
];

/// One public post, comment or feed item, as every source yields it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Stable id: `"{source kind}:{the source's own id}"`, e.g. `hackernews:8863`.
    pub id: String,
    /// Canonical URL of the post (absolute).
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Plain text: HTML stripped, entities decoded.
    pub text: String,
    /// When the post was written, or when overhear first saw it if the source gives no date.
    pub created_at: DateTime<Utc>,
    /// True when `created_at` is the first-seen time rather than the source's date.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created_at_is_first_seen: bool,
    /// Source kind: `hackernews`, `reddit`, `mastodon`, `bluesky`, `lobsters`,
    /// `stackexchange`, `rss`, `discourse`, `appstore`, `github`, `devto`, `lemmy`.
    pub source: String,
    /// The `name` of the `[[source]]` entry that produced it.
    #[serde(default)]
    pub source_name: String,
    /// Where it was said: a host, plus a community where there is one
    /// (`reddit.com/r/rust`, `mastodon.social`, `news.ycombinator.com`).
    #[serde(default)]
    pub site: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Points, score, favourites or reposts, where the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engagement: Option<i64>,
    /// BCP-47 language tag, where the source gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Links found in the post (absolute), for domain terms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// A star rating of 1 to 5, where the post is a review (App Store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// The brand whose owned channel (`brand = NAME` on its `[[source]]` entry) this
    /// post came from: a mention of that brand whatever it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
}

/// Why the brand cannot answer a post of `kind` in public, and where it answers
/// instead; `None` for kinds whose posts can be answered where they are.
pub fn answer_elsewhere(kind: &str) -> Option<&'static str> {
    match kind {
        "appstore" => Some("App Store reviews have no public thread: answer in App Store Connect"),
        _ => None,
    }
}

impl Post {
    /// Where a person answers the post on its own site: Hacker News's reply page
    /// (`reply?id=ID`), else the post itself.
    pub fn reply_page(&self) -> String {
        match self.id.strip_prefix("hackernews:") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                format!("https://news.ycombinator.com/reply?id={n}")
            }
            _ => self.url.clone(),
        }
    }

    /// The rating as stars, `★★☆☆☆` for 2 of 5; `None` when the post has none.
    pub fn stars(&self) -> Option<String> {
        let r = usize::from(self.rating?.min(5));
        Some(format!("{}{}", "★".repeat(r), "☆".repeat(5 - r)))
    }

    /// The text the classifier reads: the title, then the body.
    pub fn classifier_text(&self) -> String {
        match &self.title {
            Some(title) if !title.is_empty() && !self.text.is_empty() => {
                format!("{title}. {}", self.text)
            }
            Some(title) if !title.is_empty() => title.clone(),
            _ => self.text.clone(),
        }
    }
}

/// Which part of a post a term matched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Title,
    Text,
    Author,
    Url,
    Site,
    Link,
    Lang,
}

/// One term of a brand query that matched, with its byte span in that field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedTerm {
    pub term: String,
    pub field: Field,
    pub start: usize,
    pub end: usize,
}

/// A brand a post mentions, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrandMatch {
    pub brand: String,
    /// The named query that matched (`"default"` for a brand's `query`).
    #[serde(default)]
    pub query: String,
    pub terms: Vec<MatchedTerm>,
}

/// The classifier's verdict on a post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sentiment {
    pub label: String,
    /// Probability of every label, in the model's label order.
    pub scores: Vec<(String, f32)>,
    /// Which model said so (`name@hash`).
    pub model: String,
}

impl Sentiment {
    pub fn score(&self, label: &str) -> Option<f32> {
        self.scores
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, p)| *p)
    }
}

/// What the store keeps for a post that mentions at least one brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub post: Post,
    pub brands: Vec<BrandMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<Sentiment>,
    pub first_seen: DateTime<Utc>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Mention {
    /// Byte spans of the matched terms in `field` (of `brand` only, when given),
    /// for highlighting.
    pub fn term_spans(&self, brand: Option<&str>, field: Field) -> Vec<(usize, usize)> {
        self.brands
            .iter()
            .filter(|b| brand.map_or(true, |name| b.brand.eq_ignore_ascii_case(name)))
            .flat_map(|b| b.terms.iter())
            .filter(|t| t.field == field)
            .map(|t| (t.start, t.end))
            .collect()
    }
}
