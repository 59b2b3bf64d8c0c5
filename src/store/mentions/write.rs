//! Writes: store a post (merging duplicates), record its sentiment and its alert.
//!
//! Each call is one transaction over the mention trees followed by a flush, so it is
//! durable on return. Deleting old mentions is `retention`'s job, not this file's.
//! Every update starts from the stored record, so a merge, an edit or a new
//! sentiment never resets the mention's triage state (`triage` changes that).

use chrono::{DateTime, Utc};
use sled::transaction::ConflictableTransactionResult;

use super::super::keys::{self, canonical_url};
use super::super::{Store, StoreError};
use super::index::{abort, entries, source_name, View};
use super::{Record, Upsert};
use crate::post::{BrandMatch, Mention, Post, Sentiment};

fn validate_name(what: &str, s: &str) -> Result<(), StoreError> {
    if s.is_empty() || s.contains('\0') {
        return Err(StoreError::Invalid(format!(
            "{what} {s:?} cannot be stored: it must be non-empty and contain no NUL"
        )));
    }
    Ok(())
}

fn validate(post: &Post, brands: &[BrandMatch]) -> Result<(), StoreError> {
    validate_name("post id", &post.id)?;
    for b in brands {
        validate_name("brand", &b.brand)?;
    }
    if post.source.contains('\0') || post.source_name.contains('\0') {
        return Err(StoreError::Invalid(format!(
            "post {:?}: source names cannot contain NUL",
            post.id
        )));
    }
    Ok(())
}

impl View<'_> {
    /// Stores `new` under `id`, moving its index entries from what `old` had.
    pub(super) fn write(
        &self,
        id: &str,
        old: Option<&Record>,
        new: &Record,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let fresh = entries(id, new);
        if let Some(old) = old {
            for (i, k, _) in entries(id, old) {
                if !fresh.iter().any(|(j, k2, _)| *j == i && *k2 == k) {
                    self.idx[i].remove(k)?;
                }
            }
        }
        for (i, k, v) in fresh {
            self.idx[i].insert(k, v)?;
        }
        self.move_counts(old, Some(new))?;
        self.move_triaged(id, old, Some(new))?;
        let bytes = serde_json::to_vec(new).map_err(abort)?;
        self.mentions.insert(id.as_bytes(), bytes)?;
        Ok(())
    }

    pub(super) fn delete(
        &self,
        id: &str,
        rec: &Record,
    ) -> ConflictableTransactionResult<(), StoreError> {
        for (i, k, _) in entries(id, rec) {
            self.idx[i].remove(k)?;
        }
        for a in &rec.aliases {
            if self.alias(a)?.as_deref() == Some(id) {
                self.ids.remove(a.as_bytes())?;
            }
        }
        self.move_counts(Some(rec), None)?;
        self.move_triaged(id, Some(rec), None)?;
        self.mentions.remove(id.as_bytes())?;
        Ok(())
    }

    fn upsert(
        &self,
        post: &Post,
        brands: &[BrandMatch],
        now: DateTime<Utc>,
    ) -> ConflictableTransactionResult<Upsert, StoreError> {
        let pkey = format!("p:{}", post.id);
        let ukey = canonical_url(&post.url).map(|u| format!("u:{u}"));
        let mut found = None;
        if let Some(id) = self.alias(&pkey)? {
            if let Some(rec) = self.load(&id)? {
                found = Some((id, rec));
            }
        }
        if found.is_none() {
            if let Some(uk) = &ukey {
                if let Some(id) = self.alias(uk)? {
                    if let Some(rec) = self.load(&id)? {
                        // The same URL from the same source under another id is another
                        // post (feeds where every item shares one link).
                        if source_name(&rec.mention.post) != source_name(post) {
                            found = Some((id, rec));
                        }
                    }
                }
            }
        }
        let Some((id, old)) = found else {
            let mut attempt = 0;
            let id = loop {
                let id = keys::hash_id(&post.id, attempt);
                if self.mentions.get(id.as_bytes())?.is_none() {
                    break id;
                }
                attempt += 1;
            };
            let mut aliases = vec![pkey];
            if let Some(uk) = ukey {
                if self.alias(&uk)?.is_none() {
                    aliases.push(uk);
                }
            }
            for a in &aliases {
                self.ids.insert(a.as_bytes(), id.as_bytes())?;
            }
            let mut merged: Vec<BrandMatch> = Vec::new();
            merge_brands(&mut merged, brands, true);
            let rec = Record {
                mention: Mention {
                    post: post.clone(),
                    brands: merged,
                    sentiment: None,
                    first_seen: now,
                    updated_at: None,
                },
                aliases,
                alerted_at: None,
                triage: Default::default(),
                answer: Default::default(),
            };
            self.write(&id, None, &rec)?;
            return Ok(Upsert::New { id });
        };

        let mut rec = old.clone();
        let same_post = old.mention.post.id == post.id;
        let mut changed = false;
        let mut text_changed = false;
        if same_post && old.mention.post != *post {
            text_changed =
                old.mention.post.text != post.text || old.mention.post.title != post.title;
            rec.mention.post = post.clone();
            changed = true;
        }
        let brands_before = rec.mention.brands.len();
        changed |= merge_brands(&mut rec.mention.brands, brands, same_post);
        // A brand added to a mention already classified has had no alert rules run for
        // it: the mention goes through classification and alert evaluation again (the
        // outbox keys of the brands alerted before make their alerts idempotent).
        // Clearing the sentiment puts it in the unclassified index, so a crash before
        // that evaluation is caught up at the next start.
        let brand_added = rec.mention.brands.len() > brands_before;
        text_changed |= brand_added && rec.mention.sentiment.is_some();
        let mut new_aliases = Vec::new();
        if !rec.aliases.contains(&pkey) {
            new_aliases.push(pkey);
        }
        if let Some(uk) = ukey {
            if !rec.aliases.contains(&uk) && self.alias(&uk)?.is_none() {
                new_aliases.push(uk);
            }
        }
        for a in &new_aliases {
            self.ids.insert(a.as_bytes(), id.as_bytes())?;
        }
        let aliases_changed = !new_aliases.is_empty();
        rec.aliases.extend(new_aliases);
        if !changed {
            if aliases_changed {
                self.write(&id, Some(&old), &rec)?;
            }
            return Ok(Upsert::Unchanged { id });
        }
        if text_changed {
            rec.mention.sentiment = None;
        }
        rec.mention.updated_at = Some(now);
        self.write(&id, Some(&old), &rec)?;
        Ok(Upsert::Updated { id, text_changed })
    }
}

/// Adds `incoming` brands to `have`; for a brand already there, the new reasons
/// replace the old when `replace` (the same post, maybe edited). True if anything changed.
fn merge_brands(have: &mut Vec<BrandMatch>, incoming: &[BrandMatch], replace: bool) -> bool {
    let mut changed = false;
    for b in incoming {
        match have
            .iter_mut()
            .find(|h| h.brand.to_lowercase() == b.brand.to_lowercase())
        {
            Some(h) => {
                if replace && h != b {
                    *h = b.clone();
                    changed = true;
                }
            }
            None => {
                have.push(b.clone());
                changed = true;
            }
        }
    }
    changed
}

impl Store {
    /// Stores a post that mentions `brands`, or merges it into the mention it
    /// duplicates: same post id, or same canonical URL from another source. An edit
    /// of a stored post (same id, different content) updates it. Durable on return.
    pub fn upsert_mention(
        &self,
        post: &Post,
        brands: &[BrandMatch],
        now: DateTime<Utc>,
    ) -> Result<Upsert, StoreError> {
        validate(post, brands)?;
        let r = self.t.transaction(|v| v.upsert(post, brands, now))?;
        self.flush()?;
        Ok(r)
    }

    /// [`Store::upsert_mention`] for many posts in one transaction and one flush.
    pub fn upsert_many(
        &self,
        items: &[(Post, Vec<BrandMatch>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<Upsert>, StoreError> {
        for (p, b) in items {
            validate(p, b)?;
        }
        let r = self.t.transaction(|v| {
            items
                .iter()
                .map(|(p, b)| v.upsert(p, b, now))
                .collect::<Result<Vec<_>, _>>()
        })?;
        self.flush()?;
        Ok(r)
    }

    /// Records the classifier's verdict (indexes follow). Durable on return.
    pub fn set_sentiment(&self, id: &str, s: &Sentiment) -> Result<(), StoreError> {
        match self.set_sentiments(&[(id.to_string(), s.clone())])? {
            0 => Err(StoreError::Invalid(format!("no mention {id}"))),
            _ => Ok(()),
        }
    }

    /// [`Store::set_sentiment`] for a classified batch: one transaction, one flush.
    /// Mentions removed meanwhile (retention) are skipped; returns how many were set.
    pub fn set_sentiments(&self, items: &[(String, Sentiment)]) -> Result<usize, StoreError> {
        self.set_verdicts(items, &[], Utc::now())
    }

    /// [`Store::set_sentiments`], also recording that alerts were queued at `at` for
    /// the mentions in `alerted` (escalation measures from then), in the same
    /// transaction. A mention's first alert time is kept.
    pub fn set_verdicts(
        &self,
        items: &[(String, Sentiment)],
        alerted: &[String],
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        for (_, s) in items {
            validate_name("sentiment label", &s.label)?;
        }
        let n = self.t.transaction(|v| {
            let mut n = 0;
            for (id, s) in items {
                let Some(old) = v.load(id)? else {
                    continue;
                };
                let mut rec = old.clone();
                rec.mention.sentiment = Some(s.clone());
                if rec.alerted_at.is_none() && alerted.contains(id) {
                    rec.alerted_at = Some(at);
                }
                v.write(id, Some(&old), &rec)?;
                n += 1;
            }
            Ok(n)
        })?;
        self.flush()?;
        Ok(n)
    }

    /// Records that an alert for the mention was queued. Durable on return.
    pub fn set_alerted(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.t.transaction(|v| {
            let Some(old) = v.load(id)? else {
                return Err(abort(StoreError::Invalid(format!("no mention {id}"))));
            };
            let mut rec = old.clone();
            rec.alerted_at = Some(at);
            v.write(id, Some(&old), &rec)
        })?;
        self.flush()
    }
}
