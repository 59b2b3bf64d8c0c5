//! The webhook lanes: one per `[[alerts.webhook]]` destination, each with its own
//! pass lock, so a slow or failing Slack never delays email or another webhook,
//! and never more than one request is in flight to one destination.
//!
//! A lane keeps the destination's pace (`min_interval` between requests) and
//! pauses the whole destination, not just the failed message, after a 429, a 5xx
//! or a network error: until the server's `Retry-After`, else the backoff. The
//! paused entries keep their attempt counts.
//!
//! JSON webhooks get one signed request per alert (its `webhook-id` derived from
//! the outbox key, the same on every retry); chat destinations get one message per
//! group the rules planned (a batch, a digest), at most ten mentions each.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::outcome::{Dest, Settled};
use super::state::{lane_lock, PassLock};
use super::{DeliveryReport, Sender};
use crate::alerts::item::{OutboxEntry, Payload};
use crate::alerts::render::{action_links, action_urls, ActionLinks, Renderer};
use crate::alerts::webhook::{chat, json, Webhook, WebhookKind};
use crate::alerts::AlertError;
use crate::store::StoredMention;

#[derive(Debug, Default)]
struct Pace {
    last: Option<tokio::time::Instant>,
    paused_until: Option<DateTime<Utc>>,
}

/// One webhook destination's lane.
pub(super) struct Lane {
    pub(super) hook: Arc<Webhook>,
    pub(super) pass: PassLock,
    pace: Mutex<Pace>,
}

impl Lane {
    pub(super) fn new(hook: Webhook, db: &std::path::Path) -> Lane {
        Lane {
            pass: lane_lock(db, &hook.name),
            hook: Arc::new(hook),
            pace: Mutex::new(Pace::default()),
        }
    }

    fn pace(&self) -> std::sync::MutexGuard<'_, Pace> {
        self.pace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the destination asked to wait past `now`.
    pub(super) fn paused(&self, now: DateTime<Utc>) -> bool {
        self.pace().paused_until.is_some_and(|t| t > now)
    }

    /// Waits until `min_interval` has passed since the last request.
    async fn wait_turn(&self) {
        let last = self.pace().last;
        if let Some(last) = last {
            tokio::time::sleep_until(last + self.hook.min_interval).await;
        }
    }

    fn requested(&self) {
        self.pace().last = Some(tokio::time::Instant::now());
    }

    fn pause_until(&self, at: DateTime<Utc>) {
        self.pace().paused_until = Some(at);
    }

    /// Whether this lane delivers to the outbox recipient `to`.
    pub(super) fn owns(&self, to: &str) -> bool {
        to == self.hook.destination()
    }
}

impl Sender {
    /// Puts one-click action links ("I'll take it", "Resolved", "Not negative")
    /// under every mention of its emails and chat messages.
    pub fn with_links(mut self, links: Arc<dyn ActionLinks>) -> Sender {
        self.renderer = Renderer::new().with_links(links);
        self
    }

    /// The action links of each mention of a chat message, in the order
    /// [`chat::content`] lists them; `to` is the lane's `webhook:NAME`.
    fn chat_actions(&self, group: &[OutboxEntry], to: &str) -> Vec<Vec<(String, String)>> {
        group
            .iter()
            .filter_map(|e| match &e.item.payload {
                Payload::Mention(a) => {
                    Some(action_urls(self.renderer.links(), &a.mention.post.id, to))
                }
                _ => None,
            })
            .collect()
    }

    /// The mention as the store has it now, for a JSON body.
    fn stored_mention(&self, entry: &OutboxEntry) -> Option<StoredMention> {
        let Payload::Mention(a) = &entry.item.payload else {
            return None;
        };
        let id = self.store.resolve(&a.mention.post.id).ok().flatten()?;
        self.store.get_stored(&id).ok().flatten()
    }

    /// Sends one planned group to a webhook. `Ok(false)` when the destination must
    /// wait: the rest of the pass is left for later.
    pub(super) async fn send_webhook(
        &self,
        lane: &Lane,
        entries: Vec<OutboxEntry>,
        now: DateTime<Utc>,
        report: &mut DeliveryReport,
    ) -> Result<bool, AlertError> {
        let hook = &lane.hook;
        let shown = format!("webhook {}", hook.describe());
        let dest = Dest {
            name: &hook.name,
            kind: hook.kind.as_str(),
            shown: &shown,
        };
        let groups: Vec<Vec<OutboxEntry>> = if hook.kind == WebhookKind::Json {
            entries.into_iter().map(|e| vec![e]).collect()
        } else if entries.iter().all(crate::alerts::rules::is_backlog) {
            // a backlog is one message, its worst mentions shown
            let mut all = entries;
            chat::backlog_order(&mut all);
            vec![all]
        } else {
            entries
                .chunks(chat::MAX_PER_MESSAGE)
                .map(<[OutboxEntry]>::to_vec)
                .collect()
        };
        for group in groups {
            lane.wait_turn().await;
            let started = std::time::Instant::now();
            let result = match (hook.kind, group.as_slice()) {
                (WebhookKind::Json, [entry]) => {
                    let actions = match &entry.item.payload {
                        Payload::Mention(a) => action_links(
                            self.renderer.links(),
                            &a.mention.post.id,
                            &hook.destination(),
                        ),
                        _ => Vec::new(),
                    };
                    let body = json::body(
                        entry,
                        self.stored_mention(entry),
                        &actions,
                        self.clock.now(),
                    );
                    hook.send_json(&json::webhook_id(&entry.item.key), &body, self.clock.now())
                        .await
                }
                _ => match chat::content(
                    &group,
                    now,
                    self.renderer.links().and_then(|l| l.inbox_url()).as_deref(),
                ) {
                    Some(content) => {
                        let actions = self.chat_actions(&group, &hook.destination());
                        hook.send_chat(&content, &actions, now).await
                    }
                    None => continue,
                },
            };
            lane.requested();
            if let Settled::Retry(at) =
                self.settle(&dest, &group, result, started.elapsed(), now, report)?
            {
                lane.pause_until(at);
                return Ok(false);
            }
        }
        Ok(true)
    }
}
