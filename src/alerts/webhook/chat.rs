//! What a chat message says, before any format: built once from outbox entries,
//! then written as Block Kit, a Discord embed or an Adaptive Card, each escaping
//! the post's text for itself.
//!
//! Values only: never escapes (the formats do), never sends. Text from a post is
//! kept as [`Segment`]s so each format can bold the matched terms its own way.

use chrono::{DateTime, Utc};

use crate::alerts::item::{Delivery, MentionAlert, OutboxEntry, Payload};
use crate::alerts::render::{
    backlog_counts, floor_boundary, plain_notice, segments, PlainNotice, Segment,
};
use crate::alerts::rules::{is_backlog, BACKLOG_SHOWN};
use crate::post::Field;

/// The most mentions in one chat message (Discord allows ten embeds; Slack fifty
/// blocks, four per mention): a larger batch or digest goes out as several messages.
pub const MAX_PER_MESSAGE: usize = 10;
/// The longest quoted post text, in bytes.
pub const MAX_QUOTE: usize = 600;

/// One mention as a chat message shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMention {
    pub brand: String,
    pub label: String,
    pub probability: f32,
    /// "Hacker News", "Reddit", or the feed's site for RSS.
    pub source: String,
    pub author: Option<String>,
    pub posted_at: DateTime<Utc>,
    /// "3 h ago"
    pub age: String,
    /// The post's link, only when it is http(s).
    pub url: Option<String>,
    pub title: Vec<Segment>,
    /// The text, cut to [`MAX_QUOTE`], matched terms highlighted.
    pub text: Vec<Segment>,
    pub cut: bool,
}

impl ChatMention {
    /// "Reply on Hacker News"
    pub fn reply_label(&self) -> String {
        format!("Reply on {}", self.source)
    }

    /// "negative 94%"
    pub fn sentiment(&self) -> String {
        format!("{} {:.0}%", self.label, self.probability * 100.0)
    }
}

/// What one chat message says.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatContent {
    /// Mention alerts (one, a batch or a digest, possibly empty).
    Mentions {
        heading: String,
        items: Vec<ChatMention>,
    },
    /// Anything else: a summary, a spike, a failing source, an undeliverable alert.
    Notice(PlainNotice),
}

impl ChatContent {
    /// One line for notification previews (Slack's `text`).
    pub fn fallback(&self) -> String {
        match self {
            ChatContent::Mentions { heading, .. } => heading.clone(),
            ChatContent::Notice(n) => n.title.clone(),
        }
    }
}

/// The name people know a source kind by.
pub fn source_title(kind: &str, site: &str) -> String {
    match kind {
        "hackernews" => "Hacker News".into(),
        "reddit" => "Reddit".into(),
        "mastodon" => "Mastodon".into(),
        "bluesky" => "Bluesky".into(),
        "lobsters" => "Lobsters".into(),
        "stackexchange" => "Stack Exchange".into(),
        "github" => "GitHub".into(),
        "devto" => "DEV".into(),
        "lemmy" => "Lemmy".into(),
        "appstore" => "the App Store".into(),
        _ if !site.is_empty() => site.split('/').next().unwrap_or(site).to_string(),
        other => other.to_string(),
    }
}

/// The words of the link to a post of `kind` on `site`: "Reply on Hacker News", or
/// "Read it on the App Store" where the brand cannot answer in public
/// ([`crate::post::answer_elsewhere`]).
pub fn reply_label(kind: &str, site: &str) -> String {
    match crate::post::answer_elsewhere(kind) {
        Some(_) => format!("Read it on {}", source_title(kind, site)),
        None => format!("Reply on {}", source_title(kind, site)),
    }
}

/// "just now", "12 min ago", "3 h ago", "2 d ago".
pub fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - then).num_seconds();
    match secs {
        s if s < 60 => "just now".into(),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

fn chat_mention(a: &MentionAlert, now: DateTime<Utc>) -> ChatMention {
    let m = &a.mention;
    let p = &m.post;
    let spans = |field: Field| m.term_spans(Some(&a.brand), field);
    let cut = floor_boundary(&p.text, MAX_QUOTE);
    let title = p
        .title
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(|t| segments(&t.replace(['\r', '\n', '\t'], " "), &spans(Field::Title)))
        .unwrap_or_default();
    ChatMention {
        brand: a.brand.clone(),
        label: a.label.clone(),
        probability: a.probability,
        source: match p.stars() {
            Some(stars) => format!("{} {stars}", source_title(&p.source, &p.site)),
            None => source_title(&p.source, &p.site),
        },
        author: p.author.clone().filter(|a| !a.is_empty()),
        posted_at: p.created_at,
        age: age(p.created_at, now),
        url: (p.url.starts_with("https://") || p.url.starts_with("http://")).then(|| p.url.clone()),
        title,
        text: segments(&p.text[..cut], &spans(Field::Text)),
        cut: cut < p.text.len(),
    }
}

/// The content of one message made of `entries` (same destination; at most
/// [`MAX_PER_MESSAGE`] mentions: the sender splits larger groups).
/// A backlog (`rules::backlog`) is one message: its counts in the heading and the
/// worst [`BACKLOG_SHOWN`] mentions (`entries` come worst first: [`backlog_order`]),
/// with `inbox` (`public_url`) where known.
pub fn content(
    entries: &[OutboxEntry],
    now: DateTime<Utc>,
    inbox: Option<&str>,
) -> Option<ChatContent> {
    let first = entries.first()?;
    if let Some(n) = plain_notice(&first.item.payload) {
        return Some(ChatContent::Notice(n));
    }
    if entries.iter().all(is_backlog) {
        return Some(backlog_content(entries, now, inbox));
    }
    let brand = first.item.brand.clone().unwrap_or_default();
    let is_digest = entries.iter().any(|e| e.delivery() == Delivery::Digest);
    let items: Vec<ChatMention> = entries
        .iter()
        .filter_map(|e| match &e.item.payload {
            Payload::Mention(a) => Some(chat_mention(a, now)),
            _ => None,
        })
        .collect();
    let n = items.len();
    let heading = if is_digest {
        format!(
            "{brand} digest: {n} mention{} since the last one",
            if n == 1 { "" } else { "s" }
        )
    } else if let [one] = items.as_slice() {
        format!("{brand}: a {} mention on {}", one.label, one.source)
    } else {
        format!("{brand}: {n} mentions that need an answer")
    };
    let heading = if first.item.key.starts_with("approve|") {
        let why = match &first.item.payload {
            Payload::Mention(a) => a.reason.clone(),
            _ => String::new(),
        };
        format!("{brand}: {why} (open the mention in the inbox to approve it)")
    } else {
        heading
    };
    Some(ChatContent::Mentions { heading, items })
}

/// Puts a backlog's entries worst first (highest probability, then newest), the
/// order [`content`] shows them in.
pub fn backlog_order(entries: &mut [OutboxEntry]) {
    let p = |e: &OutboxEntry| match &e.item.payload {
        Payload::Mention(a) => (a.probability, a.mention.post.created_at),
        _ => (0.0, DateTime::<Utc>::MIN_UTC),
    };
    entries.sort_by(|a, b| {
        let (pa, ta) = p(a);
        let (pb, tb) = p(b);
        pb.total_cmp(&pa).then(tb.cmp(&ta))
    });
}

fn backlog_content(
    entries: &[OutboxEntry],
    now: DateTime<Utc>,
    inbox: Option<&str>,
) -> ChatContent {
    let alerts: Vec<&MentionAlert> = entries
        .iter()
        .filter_map(|e| match &e.item.payload {
            Payload::Mention(a) => Some(a.as_ref()),
            _ => None,
        })
        .collect();
    let n = alerts.len();
    let counts: Vec<String> = backlog_counts(&alerts)
        .into_iter()
        .map(|(brand, label, k)| format!("{brand} {k} {label}"))
        .collect();
    let shown = n.min(BACKLOG_SHOWN);
    let heading = format!(
        "{n} mention{} written before overhear listened ({}): {}{}",
        if n == 1 { "" } else { "s" },
        counts.join(", "),
        if shown < n {
            format!("the worst {shown} below, the rest in the inbox")
        } else {
            "below, and in the inbox".to_string()
        },
        inbox.map(|u| format!(" {u}")).unwrap_or_default(),
    );
    ChatContent::Mentions {
        heading,
        items: alerts
            .into_iter()
            .take(BACKLOG_SHOWN)
            .map(|a| chat_mention(a, now))
            .collect(),
    }
}

/// Plain text of segments, for formats without highlighting.
pub fn plain(segs: &[Segment]) -> String {
    segs.iter().map(|s| s.text.as_str()).collect()
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use chrono::TimeZone;

    /// A mention whose post tries every trick: chat control sequences, mass
    /// mentions, markdown and HTML.
    pub fn hostile() -> ChatContent {
        let text = "<!channel> @everyone @here Acme broke my build: <https://evil.example|click> **bold** <@U123> <script>alert(1)</script>";
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        ChatContent::Mentions {
            heading: "Acme: a negative mention on Hacker News".into(),
            items: vec![ChatMention {
                brand: "Acme".into(),
                label: "negative".into(),
                probability: 0.94,
                source: "Hacker News".into(),
                author: Some("mallory_*_".into()),
                posted_at: at,
                age: age(at, at + chrono::Duration::hours(3)),
                url: Some("https://news.ycombinator.com/item?id=1".into()),
                title: segments("Acme <script>x</script>", &[(0, 4)]),
                text: segments(text, &[(27, 31)]),
                cut: false,
            }],
        }
    }

    #[test]
    fn ages_read_like_a_mail_client() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        assert_eq!(age(at, at), "just now");
        assert_eq!(age(at, at + chrono::Duration::minutes(12)), "12 min ago");
        assert_eq!(age(at, at + chrono::Duration::hours(3)), "3 h ago");
        assert_eq!(age(at, at + chrono::Duration::days(2)), "2 d ago");
    }
}
