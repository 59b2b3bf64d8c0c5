//! From hits to the mentions a caller shows, one page at a time: each hit is read
//! back from the store and checked against the filters there, because the store is
//! the truth and the index may lag (a second, or after a crash until the catch-up).
//!
//! Never writes, to the store or to the index.

use super::{After, Order, SearchError, SearchIndex, SearchQuery, MAX_HITS};
use crate::store::mentions::UNCLASSIFIED;
use crate::store::{MentionFilter, Store, StoredMention};

/// One page of a search.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// As the store has them now, in the search's order.
    pub mentions: Vec<StoredMention>,
    /// Where the next page starts (newest-first searches); `None` on the last page.
    /// A page may hold fewer than `limit` mentions and still have a next one (hits
    /// the store no longer agrees with are left out).
    pub next: Option<After>,
}

/// One page of `q`'s mentions (at most `q.limit`), read from `store`.
pub fn page(store: &Store, index: &SearchIndex, q: &SearchQuery) -> Result<Page, SearchError> {
    let limit = q.limit.min(MAX_HITS - 1);
    if limit == 0 {
        return Ok(Page::default());
    }
    let probe = SearchQuery {
        limit: limit + 1,
        ..q.clone()
    };
    let hits = index.hits(&probe)?;
    let f = q.filter();
    let mut mentions = Vec::with_capacity(limit.min(hits.len()));
    for h in hits.iter().take(limit) {
        if let Some(m) = store.get_stored(&h.id)? {
            if still_matches(&m, &f) {
                mentions.push(m);
            }
        }
    }
    let next = match (q.order, hits.len() > limit) {
        (Order::Newest, true) => hits.get(limit - 1).map(|h| After {
            ms: h.created_ms,
            id: h.id.clone(),
        }),
        _ => None,
    };
    Ok(Page { mentions, next })
}

/// Does the mention, as stored, pass every filter of `f` (its limit aside)?
pub fn still_matches(m: &StoredMention, f: &MentionFilter) -> bool {
    let p = &m.mention.post;
    let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
    let label = m
        .mention
        .sentiment
        .as_ref()
        .map_or(UNCLASSIFIED, |s| s.label.as_str());
    f.brand
        .as_deref()
        .map_or(true, |b| m.mention.brands.iter().any(|x| same(&x.brand, b)))
        && f.sentiment.as_deref().map_or(true, |s| same(label, s))
        && f.source
            .as_deref()
            .map_or(true, |s| same(&p.source, s) || same(&p.source_name, s))
        && f.since.map_or(true, |t| p.created_at >= t)
        && f.until.map_or(true, |t| p.created_at < t)
        && f.status.map_or(true, |s| m.triage.status == s)
        && f.assignee.as_deref().map_or(true, |a| {
            m.triage.assignee.as_deref().is_some_and(|x| same(x, a))
        })
}
