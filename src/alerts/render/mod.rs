//! Emails from outbox entries: a subject and plain-text and HTML parts, rendered by
//! minijinja templates (the HTML ones auto-escape everything that comes from a post).
//!
//! Two templates: `mentions` (one alert, a batch or a digest; see `mention.rs`) and
//! `notice` (summaries, spikes, failing sources, undeliverable alerts, the test
//! email; see `notice.rs`). `text.rs` keeps headers and quotes safe.
//!
//! Rendering only: never sends, never touches the store, never builds the MIME
//! message (that is the sender's `build_message`). Anything from a post reaches a
//! header only through [`header_safe`].

mod actions;
mod mention;
mod notice;
mod text;

use std::sync::Arc;

use minijinja::{context, Environment};

use super::item::{MentionAlert, OutboxEntry, Payload};
use super::AlertError;
use notice::Notice;

pub use actions::{action_links, action_urls, recipient_address, ActionLinks, AlertAction};
pub(crate) use mention::backlog_counts;
pub(crate) use text::floor_boundary;
pub use text::{header_safe, segments, Segment};

/// How the outbox keys of escalations start (`rules::escalate`).
const ESCALATE_KEY: &str = "escalate|";
/// How the outbox keys of reminders start (`rules::remind`).
const REMIND_KEY: &str = "remind|";
/// How the outbox keys of approval notices start (`rules::approve`).
const APPROVE_KEY: &str = "approve|";

/// A notice (summary, spike, failing source, undeliverable alert, test) as plain
/// text, unescaped: for chat messages, which escape it for their own format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainNotice {
    pub title: String,
    pub lines: Vec<String>,
    /// (title, lines)
    pub sections: Vec<(String, Vec<String>)>,
}

/// The notice of a payload that is not about mentions (`None` for mention alerts and
/// digest ticks).
pub fn plain_notice(payload: &Payload) -> Option<PlainNotice> {
    let n = match payload {
        Payload::Mention(_) | Payload::DigestTick { .. } => return None,
        Payload::Summary(s) => notice::summary(s),
        Payload::Spike(s) => notice::spike(s),
        Payload::DeliveryFailed(f) => notice::delivery_failed(f),
        Payload::SourceHealth(h) => notice::source_health(h),
    };
    Some(n.plain())
}

/// The test message of `overhear test-webhook`, as plain text.
pub fn plain_test_notice(transport: &str) -> PlainNotice {
    let mut n = notice::test(transport);
    n.heading = "overhear test message".into();
    n.lines = vec![
        "This is a test message from overhear.".into(),
        format!("It was sent to {transport}; alerts will arrive the same way."),
    ];
    n.plain()
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders outbox entries into emails.
pub struct Renderer {
    env: Environment<'static>,
    /// The one-click action links of each mention (none: the email says how to
    /// enable them).
    links: Option<Arc<dyn ActionLinks>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // `.html` templates auto-escape (minijinja's default for that extension).
        for (name, src) in [
            ("mentions.txt", include_str!("../templates/mentions.txt")),
            ("mentions.html", include_str!("../templates/mentions.html")),
            ("notice.txt", include_str!("../templates/notice.txt")),
            ("notice.html", include_str!("../templates/notice.html")),
        ] {
            // The templates are compiled in; a syntax error is caught by the tests.
            let _ = env.add_template(name, src);
        }
        Renderer { env, links: None }
    }

    /// Puts `links`' action links under every mention.
    pub fn with_links(mut self, links: Arc<dyn ActionLinks>) -> Self {
        self.links = Some(links);
        self
    }

    /// The action links, if any.
    pub fn links(&self) -> Option<&Arc<dyn ActionLinks>> {
        self.links.as_ref()
    }

    fn both(&self, base: &str, ctx: minijinja::Value) -> Result<(String, String), AlertError> {
        let r = |name: String| -> Result<String, AlertError> {
            Ok(self.env.get_template(&name)?.render(&ctx)?)
        };
        Ok((r(format!("{base}.txt"))?, r(format!("{base}.html"))?))
    }

    /// A `notice` email: the subject made header-safe, the lines and sections.
    fn notice(&self, n: Notice) -> Result<Rendered, AlertError> {
        let subject = header_safe(&n.subject, 200);
        let (text, html) = self.both(
            "notice",
            context! { subject => &subject, heading => n.heading, lines => n.lines, sections => n.sections },
        )?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }

    /// One email from entries for the same recipient (one alert, a batch or a digest).
    pub fn render(&self, entries: &[OutboxEntry]) -> Result<Rendered, AlertError> {
        let first = entries
            .first()
            .ok_or_else(|| AlertError::Render("nothing to render".into()))?;
        let brand = first.item.brand.clone().unwrap_or_default();
        let alerts: Vec<&MentionAlert> = entries
            .iter()
            .filter_map(|e| match &e.item.payload {
                Payload::Mention(a) => Some(a.as_ref()),
                _ => None,
            })
            .collect();
        let is_digest = entries
            .iter()
            .any(|e| e.delivery() == super::Delivery::Digest);
        match &first.item.payload {
            Payload::Mention(_) | Payload::DigestTick { .. } => {
                let to = recipient_address(&first.item.to);
                let links = |post_id: &str| action_urls(self.links.as_ref(), post_id, &to);
                let backlog = entries.iter().all(crate::alerts::rules::is_backlog);
                let (mut subject, mut heading, intro, views) = if backlog {
                    let inbox = self.links.as_ref().and_then(|l| l.inbox_url());
                    mention::backlog_email(&alerts, inbox.as_deref(), &links)
                } else {
                    let (s, h, v) = mention::email(&brand, &alerts, is_digest, &links);
                    (s, h, Vec::new(), v)
                };
                if first.item.key.starts_with(ESCALATE_KEY) {
                    subject = subject.replacen("[overhear] ", "[overhear] overdue: ", 1);
                    heading = format!("{brand}: still new, nobody has taken it");
                } else if first.item.key.starts_with(REMIND_KEY) {
                    subject = subject.replacen("[overhear] ", "[overhear] unanswered: ", 1);
                    heading = format!("{brand}: nobody has answered in public yet");
                } else if first.item.key.starts_with(APPROVE_KEY) {
                    subject = subject.replacen(
                        "[overhear] ",
                        "[overhear] reply waiting for approval: ",
                        1,
                    );
                    heading =
                        format!("{brand}: a reply waits for your approval (open the mention)");
                }
                let (text, html) = self.both(
                    "mentions",
                    context! {
                        subject => &subject, heading, intro, mentions => views,
                        links_hint => self.links.is_none(),
                    },
                )?;
                Ok(Rendered {
                    subject,
                    text,
                    html,
                })
            }
            Payload::Summary(s) => self.notice(notice::summary(s)),
            Payload::Spike(s) => self.notice(notice::spike(s)),
            Payload::DeliveryFailed(f) => self.notice(notice::delivery_failed(f)),
            Payload::SourceHealth(h) => self.notice(notice::source_health(h)),
        }
    }

    /// The `overhear test-email` message.
    pub fn test_message(&self, transport: &str) -> Result<Rendered, AlertError> {
        self.notice(notice::test(transport))
    }
}
