//! Reads: one mention by id, post id or URL, and filtered lists and counts that walk
//! the best index newest first (brand, else status, else sentiment, else time); the
//! other filters are answered from the index value. Nothing here writes.

use super::super::keys::{self, canonical_url, group, split_tail};
use super::super::{MentionFilter, Store, StoreError};
use super::index::{decode, group_end, parse_value};
use super::{Record, StoredMention};
use crate::post::Mention;

/// One row of an index scan.
struct Hit<'a> {
    id: &'a str,
}

impl Store {
    pub(super) fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
        match self.t.mentions.get(id.as_bytes())? {
            Some(b) => Ok(Some(decode(id, &b)?)),
            None => Ok(None),
        }
    }

    /// The mention with this id.
    pub fn get(&self, id: &str) -> Result<Option<Mention>, StoreError> {
        Ok(self.record(id)?.map(|r| r.mention))
    }

    /// The mention with this id, with the id and alert state.
    pub fn get_stored(&self, id: &str) -> Result<Option<StoredMention>, StoreError> {
        Ok(self.record(id)?.map(|r| StoredMention::from_record(id, r)))
    }

    /// The id of the mention `what` names: a mention id, a post id
    /// (`hackernews:8863`), or a post URL.
    pub fn resolve(&self, what: &str) -> Result<Option<String>, StoreError> {
        if keys::is_id(what) && self.t.mentions.contains_key(what.as_bytes())? {
            return Ok(Some(what.to_string()));
        }
        let mut candidates = vec![format!("p:{what}")];
        if let Some(u) = canonical_url(what) {
            candidates.push(format!("u:{u}"));
        }
        for c in candidates {
            if let Some(v) = self.t.ids.get(c.as_bytes())? {
                return Ok(Some(String::from_utf8_lossy(&v).into_owned()));
            }
        }
        Ok(None)
    }

    /// Walks the best index for `f`, newest first, calling `visit` for every row that
    /// passes the filter until it returns false.
    fn scan(
        &self,
        f: &MentionFilter,
        mut visit: impl FnMut(&Hit) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let sentiment = f.sentiment.as_ref().map(|s| s.to_lowercase());
        let source = f.source.as_ref().map(|s| s.to_lowercase());
        let status = f.status.map(|s| s.as_str());
        let (tree, prefix) = match (&f.brand, status, &sentiment) {
            (Some(b), _, _) => (&self.t.brand, group(b)),
            (None, Some(s), _) => (&self.t.status, group(s)),
            (None, None, Some(s)) => (&self.t.sentiment, group(s)),
            (None, None, None) => (&self.t.time, Vec::new()),
        };
        let mut lo = prefix.clone();
        if let Some(since) = f.since {
            lo.extend_from_slice(&keys::ts(since));
        }
        let hi = match f.until {
            Some(until) => {
                let mut h = prefix.clone();
                h.extend_from_slice(&keys::ts(until));
                Some(h)
            }
            None if prefix.is_empty() => None,
            // prefix ends in \0: the next prefix ends in \x01
            None => Some(group_end(&prefix)),
        };
        let iter = match hi {
            Some(h) => tree.range(lo..h),
            None => tree.range(lo..),
        };
        for item in iter.rev() {
            let (k, v) = item?;
            let Some((_, id)) = split_tail(&k) else {
                continue;
            };
            let value = parse_value(&v);
            if let Some(s) = &sentiment {
                if value.label != s {
                    continue;
                }
            }
            if let Some(s) = &source {
                if !value.source.eq_ignore_ascii_case(s)
                    && !value.source_name.eq_ignore_ascii_case(s)
                {
                    continue;
                }
            }
            if status.is_some_and(|s| value.status != s) {
                continue;
            }
            if let Some(a) = &f.assignee {
                if !value.assignee.eq_ignore_ascii_case(a) {
                    continue;
                }
            }
            if !visit(&Hit { id })? {
                break;
            }
        }
        Ok(())
    }

    /// Mentions matching `f`, newest post first, with their ids.
    pub fn list_stored(&self, f: &MentionFilter) -> Result<Vec<StoredMention>, StoreError> {
        let limit = f.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan(f, |hit| {
            // An index row whose mention is gone is reported by `check`, not listed.
            if let Some(m) = self.get_stored(hit.id)? {
                out.push(m);
            }
            Ok(out.len() < limit)
        })?;
        Ok(out)
    }

    /// Mentions matching `f`, newest post first.
    pub fn list(&self, f: &MentionFilter) -> Result<Vec<Mention>, StoreError> {
        Ok(self
            .list_stored(f)?
            .into_iter()
            .map(|s| s.mention)
            .collect())
    }

    /// How many mentions match `f` (its limit ignored). Reads indexes only.
    pub fn count(&self, f: &MentionFilter) -> Result<u64, StoreError> {
        let mut n = 0u64;
        let f = MentionFilter {
            limit: None,
            ..f.clone()
        };
        self.scan(&f, |_| {
            n += 1;
            Ok(true)
        })?;
        Ok(n)
    }

    /// Stored mentions not classified yet, first seen first: after a crash between
    /// storing and classifying, these are what the classifier still owes.
    pub fn unclassified(&self, limit: usize) -> Result<Vec<StoredMention>, StoreError> {
        let mut out = Vec::new();
        for item in self.t.unclassified.iter() {
            if out.len() >= limit {
                break;
            }
            let (k, _) = item?;
            if let Some((_, id)) = split_tail(&k) {
                if let Some(m) = self.get_stored(id)? {
                    out.push(m);
                }
            }
        }
        Ok(out)
    }

    /// Number of stored mentions.
    pub fn len(&self) -> usize {
        self.t.mentions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.t.mentions.is_empty()
    }
}
