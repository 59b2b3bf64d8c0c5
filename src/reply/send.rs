//! The reply sender: takes each queued reply whose time has come, marks it
//! `sending` (flushed) with one more attempt, posts it through its account's
//! network, and records the answer: posted (and the mention answered), queued again
//! after a wait (408, 429, 5xx, network), or failed (any other refusal, or too many
//! attempts). A reply found `sending` at start went out or not: it is tried again
//! with the same key, which the network (or the look before a Stack Exchange retry)
//! turns into "already posted".

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::network::{Outgoing, PostError, Posted};
use super::service::Replies;
use crate::store::replies::{ReplyRecord, ReplyState};

/// Attempts a reply gets before it is marked failed.
pub const MAX_ATTEMPTS: u32 = 8;
/// The first retry's wait; doubled after each failure, up to [`RETRY_MAX`].
const RETRY_BASE: Duration = Duration::from_secs(15);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// How long the sender sleeps when nothing is due and nothing wakes it.
const IDLE: Duration = Duration::from_secs(30);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Posted(Posted),
    /// Queued again for this time.
    Later(DateTime<Utc>),
    Failed(String),
    /// Someone else changed it first (dropped, or no longer due).
    Skipped,
}

fn retry_wait(attempts: u32, asked: Option<Duration>) -> Duration {
    let exp = RETRY_BASE.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(16)));
    exp.min(RETRY_MAX).max(asked.unwrap_or(Duration::ZERO))
}

impl Replies {
    /// Sends every reply due at `now`, one at a time; returns what became of each.
    pub async fn send_due(&self, now: DateTime<Utc>) -> Vec<(String, Outcome)> {
        let due: Vec<ReplyRecord> = match self.store.replies() {
            Ok(all) => all
                .into_iter()
                .filter(|r| r.is_pending() && r.next_try <= now)
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the queued replies");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for r in due {
            let outcome = self.attempt(&r).await;
            out.push((r.id.clone(), outcome));
        }
        out
    }

    /// One attempt of reply `r`.
    async fn attempt(&self, r: &ReplyRecord) -> Outcome {
        let id = r.id.clone();
        let fail = |why: String| {
            let why2 = why.clone();
            match self.store.reply_update(&id, |x| {
                x.state = ReplyState::Failed;
                x.last_error = Some(why2.clone());
                Ok(())
            }) {
                Ok(_) => {
                    tracing::warn!(reply = %id, error = %why, "reply failed");
                    Outcome::Failed(why)
                }
                Err(e) => {
                    tracing::error!(reply = %id, error = %e, "cannot record a failed reply");
                    Outcome::Skipped
                }
            }
        };
        let net = match self.client(&r.account) {
            Ok(n) => n,
            Err(why) => return fail(why),
        };
        let m = match self.store.get_stored(&r.mention_id) {
            Ok(Some(m)) => m,
            Ok(None) => return fail(format!("mention {} is gone", r.mention_id)),
            Err(e) => {
                tracing::error!(reply = %id, error = %e, "cannot read the mention of a reply");
                return Outcome::Skipped;
            }
        };
        if let Err(why) = net.fits(&m.mention.post) {
            return fail(format!("{} cannot answer this mention: {why}", r.account));
        }
        // on disk before the request: a stop from here on retries with the same key
        let started = self.store.reply_update(&id, |x| {
            if !x.is_pending() {
                return Err("not pending".into());
            }
            x.state = ReplyState::Sending;
            x.attempts = x.attempts.saturating_add(1);
            Ok(())
        });
        let rec = match started {
            Ok(Some(x)) => x,
            Ok(None) | Err(_) => return Outcome::Skipped,
        };
        let out = Outgoing {
            key: &rec.id,
            text: &rec.text,
            post: &m.mention.post,
            attempt: rec.attempts,
            queued_at: rec.created_at,
        };
        match net.post(out).await {
            Ok(posted) => self.posted(&rec, &m, posted),
            Err(PostError::Refused { status, why }) => fail(match status {
                Some(s) if !why.contains(&format!("HTTP {s}")) => {
                    format!("{} answered {s}: {why}", net.kind())
                }
                _ => why,
            }),
            Err(PostError::Retry { why, after }) => {
                if rec.attempts >= MAX_ATTEMPTS {
                    return fail(format!("gave up after {} attempts: {why}", rec.attempts));
                }
                let wait = retry_wait(rec.attempts, after);
                let at = Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
                let saved = self.store.reply_update(&id, |x| {
                    x.state = ReplyState::Queued;
                    x.next_try = at;
                    x.last_error = Some(why.clone());
                    Ok(())
                });
                if let Err(e) = saved {
                    tracing::error!(reply = %id, error = %e, "cannot queue a reply again");
                }
                tracing::warn!(reply = %id, attempt = rec.attempts, error = %why, retry_in = ?wait, "reply not posted yet");
                Outcome::Later(at)
            }
        }
    }

    /// Records that `rec` went out: the reply is posted, the mention answered.
    fn posted(&self, rec: &ReplyRecord, m: &crate::store::StoredMention, p: Posted) -> Outcome {
        let saved = self.store.reply_update(&rec.id, |x| {
            x.state = ReplyState::Posted;
            x.url = Some(p.url.clone());
            x.remote_id = Some(p.remote_id.clone());
            x.posted_at = Some(p.at);
            x.posted_by = Some(p.by.clone());
            x.last_error = None;
            Ok(())
        });
        if let Err(e) = saved {
            // it went out: the next attempt finds it (same key) and records it then
            tracing::error!(reply = %rec.id, error = %e, "a reply went out but cannot be recorded; it is recorded on the next attempt");
            return Outcome::Skipped;
        }
        let note = format!("replied as {} ({}): {}", rec.account, p.by, p.url);
        let answered = self.store.set_answered_by_reply(
            &m.id,
            (&p.by, p.at, &p.url),
            self.resolves(m),
            Utc::now(),
            (&rec.author, rec.via, note),
        );
        if let Err(e) = answered {
            tracing::error!(mention = %m.id, error = %e, "cannot mark the mention answered");
        }
        tracing::info!(reply = %rec.id, mention = %m.id, account = %rec.account, url = %p.url, "reply posted");
        Outcome::Posted(p)
    }

    /// Sends what is due, then waits until the next reply's time, a new or
    /// approved reply, or [`IDLE`], whichever comes first.
    pub async fn run_round(&self) {
        self.send_due(Utc::now()).await;
        let next = self
            .store
            .replies()
            .ok()
            .and_then(|all| {
                all.into_iter()
                    .filter(|r| r.is_pending())
                    .map(|r| r.next_try)
                    .min()
            })
            .map(|t| (t - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(IDLE)
            .min(IDLE);
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(next) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_and_honour_the_server() {
        assert_eq!(retry_wait(1, None), Duration::from_secs(15));
        assert_eq!(retry_wait(2, None), Duration::from_secs(30));
        assert_eq!(retry_wait(30, None), RETRY_MAX);
        assert_eq!(
            retry_wait(1, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
    }
}
