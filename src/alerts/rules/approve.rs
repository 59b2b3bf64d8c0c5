//! Approval notices: with `[reply] require_approval`, a reply written to a mention
//! waits as a draft until another user approves it; the brand's recipients hear of
//! it at once ("a reply waits for approval"), with the draft's text and account, so
//! that an approver opens the mention. Once per draft and recipient: the outbox key
//! is (`approve`, reply id @ brand, recipient).

use chrono::{DateTime, Utc};

use super::Alerter;
use crate::alerts::item::{Delivery, MentionAlert, OutboxItem, Payload};
use crate::store::StoredMention;

/// The rule name of approval notices (the first part of their outbox key).
pub const APPROVE: &str = "approve";

/// A draft reply, as its notice tells it.
pub struct Draft<'a> {
    pub id: &'a str,
    pub account: &'a str,
    pub author: &'a str,
    pub text: &'a str,
}

impl Alerter {
    /// One notice per recipient of each of `m`'s brands that `draft` waits for
    /// approval.
    pub fn approval_items(
        &self,
        m: &StoredMention,
        draft: &Draft<'_>,
        now: DateTime<Utc>,
    ) -> Vec<OutboxItem> {
        let post = &m.mention.post;
        let (label, p) = m
            .mention
            .sentiment
            .as_ref()
            .map_or(("unclassified".to_string(), 0.0), |s| {
                (s.label.clone(), s.score(&s.label).unwrap_or(0.0))
            });
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for b in &m.mention.brands {
            let Some(rule) = self.rule(&b.brand) else {
                continue;
            };
            if !seen.insert(rule.brand.clone()) {
                continue;
            }
            let alert = MentionAlert {
                mention: m.mention.clone(),
                brand: rule.brand.clone(),
                label: label.clone(),
                probability: p,
                threshold: rule.threshold,
                reason: format!(
                    "a reply as {} by {} waits for another user's approval: \"{}\"",
                    draft.account, draft.author, draft.text
                ),
            };
            for to in self.recipients(rule, &post.source, &post.source_name) {
                out.push(OutboxItem {
                    key: OutboxItem::make_key(
                        APPROVE,
                        &format!("{}@{}", draft.id, rule.brand),
                        &to,
                    ),
                    to,
                    brand: Some(rule.brand.clone()),
                    delivery: Delivery::Direct,
                    not_before: now,
                    created_at: now,
                    payload: Payload::Mention(Box::new(alert.clone())),
                });
            }
        }
        out
    }
}
