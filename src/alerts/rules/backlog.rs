//! The backlog: posts overhear finds that were written before it listened. The first
//! poll of a source for a brand (a new source, a new brand, a first start) returns
//! whatever the site still lists, and a post older than `[alerts] max_age` is news to
//! nobody; neither should send one message per post. With `backlog = "digest"` (the
//! default) they go out as one message per destination: how many, the worst few, and
//! the inbox link.
//!
//! A backlog alert is an ordinary digest entry whose key starts with [`BACKLOG_KEY`]:
//! [`Alerter::plan`](super::Alerter::plan) sends every pending backlog entry of one
//! recipient together (whatever the brand), and the renderers summarise it. Pure:
//! whether a mention came with a first poll is the caller's to say.

use chrono::{DateTime, Duration as CDuration, Utc};

use super::{cdur, Alerter};
use crate::alerts::config::BacklogMode;
use crate::alerts::item::OutboxEntry;
use crate::post::Mention;

/// How the outbox keys of backlog alerts start.
pub const BACKLOG_KEY: &str = "backlog|";

/// How long a backlog entry waits before it is sent, so that the rest of its poll
/// (classified a little later) goes in the same message.
pub const BACKLOG_WAIT: CDuration = CDuration::seconds(20);

/// At most this many mentions are shown in a backlog message; the rest are counted.
pub const BACKLOG_SHOWN: usize = 5;

/// Why a mention is backlog for a brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backlog {
    /// It came with the first poll of its source for the brand.
    FirstPoll,
    /// It was posted more than `max_age` before it was classified.
    Old,
}

/// What an alert rule does with a backlog mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Handling {
    /// As any new mention (`backlog = "alert"`, first poll, recent).
    Alert,
    /// In the destination's backlog message.
    Digest,
    /// No message (`backlog = "none"`).
    Quiet,
}

impl Alerter {
    /// Whether `m` is backlog for `brand`, and why. `first_poll` says whether it came
    /// with the first poll of its source for that brand.
    pub(super) fn backlog_of(
        &self,
        m: &Mention,
        first_poll: bool,
        now: DateTime<Utc>,
    ) -> Option<Backlog> {
        let max_age = self.cfg.max_age;
        let old = !max_age.is_zero()
            && !m.post.created_at_is_first_seen
            && m.post.created_at < now - cdur(max_age);
        if old {
            Some(Backlog::Old)
        } else if first_poll {
            Some(Backlog::FirstPoll)
        } else {
            None
        }
    }

    /// What `[alerts] backlog` says to do with a backlog mention: an old one never
    /// alerts on its own, whatever the mode.
    pub(super) fn backlog_handling(&self, why: Backlog) -> Handling {
        match (self.cfg.backlog, why) {
            (BacklogMode::None, _) => Handling::Quiet,
            (BacklogMode::Alert, Backlog::FirstPoll) => Handling::Alert,
            (BacklogMode::Alert | BacklogMode::Digest, _) => Handling::Digest,
        }
    }
}

/// Whether an outbox entry is a backlog alert.
pub fn is_backlog(e: &OutboxEntry) -> bool {
    e.item.key.starts_with(BACKLOG_KEY)
}

/// The words an alert's reason gets for a backlog mention.
pub(super) fn reason(why: Backlog, m: &Mention) -> String {
    match why {
        Backlog::FirstPoll => format!(
            "found by the first poll of {} for this brand (written before overhear listened)",
            if m.post.source_name.is_empty() {
                &m.post.source
            } else {
                &m.post.source_name
            }
        ),
        Backlog::Old => format!(
            "posted {}, longer ago than [alerts] max_age",
            m.post.created_at.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}
