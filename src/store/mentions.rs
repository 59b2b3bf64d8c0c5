//! Mentions and their indexes: dedup on upsert, sentiment, queries, stats, check,
//! retention. See the layout table in the module above.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Transactional;

use super::keys::{self, canonical_url, group, grouped, split_tail, timed};
use super::{MentionFilter, Store, StoreError};
use crate::post::{BrandMatch, Mention, Post, Sentiment};

/// The label a mention has in the sentiment index before it is classified.
pub const UNCLASSIFIED: &str = "unclassified";

/// What [`Store::upsert_mention`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Upsert {
    /// A post not seen before: classify it.
    New { id: String },
    /// A post seen before that changed (edited text, more brands, new metadata).
    /// When `text_changed`, its sentiment was cleared: classify it again.
    Updated { id: String, text_changed: bool },
    /// Seen before, nothing new (a later poll, or the same URL from another source
    /// adding no brand).
    Unchanged { id: String },
}

impl Upsert {
    pub fn id(&self) -> &str {
        match self {
            Upsert::New { id } | Upsert::Updated { id, .. } | Upsert::Unchanged { id } => id,
        }
    }
}

/// What is stored per mention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub mention: Mention,
    /// Keys in the `ids` tree that point here (`p:{post id}`, `u:{url}`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// When an alert for it was queued, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<DateTime<Utc>>,
}

/// A mention with its id, as listed and served by the API (JSON: the [`Mention`]'s
/// fields plus `id`, so it also reads as a plain `Mention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMention {
    pub id: String,
    #[serde(flatten)]
    pub mention: Mention,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerted_at: Option<DateTime<Utc>>,
}

/// Stats bucket width. Buckets are UTC days, and weeks starting on Monday (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    #[default]
    Day,
    Week,
}

/// Mentions per sentiment in one bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRow {
    /// First day of the bucket (UTC).
    pub bucket: NaiveDate,
    pub total: u64,
    /// Label (`negative`, ..., `unclassified`) to count.
    pub counts: BTreeMap<String, u64>,
}

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub mentions: u64,
    pub index_entries: u64,
    pub aliases: u64,
    /// Each inconsistency, in words (at most [`CheckReport::MAX_PROBLEMS`]).
    pub problems: Vec<String>,
    /// How many inconsistencies there were in all.
    pub problem_count: u64,
}

impl CheckReport {
    pub const MAX_PROBLEMS: usize = 100;

    pub fn is_ok(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < Self::MAX_PROBLEMS {
            self.problems.push(p);
        }
    }
}

/// The id a mention first seen as this post gets (when no other mention has it).
pub fn mention_id(post_id: &str) -> String {
    keys::hash_id(post_id, 0)
}

#[derive(Clone)]
pub(crate) struct Trees {
    mentions: sled::Tree,
    ids: sled::Tree,
    time: sled::Tree,
    brand: sled::Tree,
    sentiment: sled::Tree,
    unclassified: sled::Tree,
}

impl Trees {
    pub(crate) fn open(db: &sled::Db) -> Result<Trees, StoreError> {
        Ok(Trees {
            mentions: db.open_tree("mentions")?,
            ids: db.open_tree("ids")?,
            time: db.open_tree("idx_time")?,
            brand: db.open_tree("idx_brand")?,
            sentiment: db.open_tree("idx_sentiment")?,
            unclassified: db.open_tree("idx_unclassified")?,
        })
    }

    fn index(&self, i: usize) -> &sled::Tree {
        match i {
            0 => &self.time,
            1 => &self.brand,
            2 => &self.sentiment,
            _ => &self.unclassified,
        }
    }

    /// Runs `f` in one transaction over every mention tree.
    fn transaction<A>(
        &self,
        f: impl Fn(&View) -> ConflictableTransactionResult<A, StoreError>,
    ) -> Result<A, StoreError> {
        let r = (
            &self.mentions,
            &self.ids,
            &self.time,
            &self.brand,
            &self.sentiment,
            &self.unclassified,
        )
            .transaction(|(m, ids, t, b, s, u)| {
                f(&View {
                    mentions: m,
                    ids,
                    idx: [t, b, s, u],
                })
            });
        r.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })
    }
}

const INDEX_NAMES: [&str; 4] = ["idx_time", "idx_brand", "idx_sentiment", "idx_unclassified"];

struct View<'a> {
    mentions: &'a TransactionalTree,
    ids: &'a TransactionalTree,
    idx: [&'a TransactionalTree; 4],
}

type Entry = (usize, Vec<u8>, Vec<u8>);

fn abort<E: Into<StoreError>>(e: E) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

fn label_of(m: &Mention) -> String {
    m.sentiment
        .as_ref()
        .map(|s| s.label.to_lowercase())
        .unwrap_or_else(|| UNCLASSIFIED.to_string())
}

fn source_name(p: &Post) -> &str {
    if p.source_name.is_empty() {
        &p.source
    } else {
        &p.source_name
    }
}

/// The index value: `label \0 source \0 source_name`.
fn index_value(m: &Mention) -> Vec<u8> {
    let mut v = label_of(m).into_bytes();
    v.push(0);
    v.extend_from_slice(m.post.source.as_bytes());
    v.push(0);
    v.extend_from_slice(m.post.source_name.as_bytes());
    v
}

struct IndexValue<'a> {
    label: &'a str,
    source: &'a str,
    source_name: &'a str,
}

fn parse_value(v: &[u8]) -> IndexValue<'_> {
    let mut it = v
        .split(|b| *b == 0)
        .map(|p| std::str::from_utf8(p).unwrap_or(""));
    IndexValue {
        label: it.next().unwrap_or(""),
        source: it.next().unwrap_or(""),
        source_name: it.next().unwrap_or(""),
    }
}

/// Every index entry a mention should have: (index number, key, value).
fn entries(id: &str, m: &Mention) -> Vec<Entry> {
    let t = m.post.created_at;
    let value = index_value(m);
    let mut out = vec![(0, timed(t, id), value.clone())];
    let mut brands: Vec<String> = m.brands.iter().map(|b| b.brand.to_lowercase()).collect();
    brands.sort();
    brands.dedup();
    for b in brands {
        out.push((1, grouped(&b, t, id), value.clone()));
    }
    out.push((2, grouped(&label_of(m), t, id), value));
    if m.sentiment.is_none() {
        out.push((3, timed(m.first_seen, id), Vec::new()));
    }
    out
}

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

fn decode(id: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Invalid(format!(
            "mention {id} is stored in a form this build cannot read: {e}"
        ))
    })
}

impl View<'_> {
    fn load(&self, id: &str) -> ConflictableTransactionResult<Option<Record>, StoreError> {
        match self.mentions.get(id.as_bytes())? {
            Some(b) => Ok(Some(decode(id, &b).map_err(abort)?)),
            None => Ok(None),
        }
    }

    fn alias(&self, key: &str) -> ConflictableTransactionResult<Option<String>, StoreError> {
        Ok(self
            .ids
            .get(key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Stores `new` under `id`, moving its index entries from what `old` had.
    fn write(
        &self,
        id: &str,
        old: Option<&Record>,
        new: &Record,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let fresh = entries(id, &new.mention);
        if let Some(old) = old {
            for (i, k, _) in entries(id, &old.mention) {
                if !fresh.iter().any(|(j, k2, _)| *j == i && *k2 == k) {
                    self.idx[i].remove(k)?;
                }
            }
        }
        for (i, k, v) in fresh {
            self.idx[i].insert(k, v)?;
        }
        let bytes = serde_json::to_vec(new).map_err(abort)?;
        self.mentions.insert(id.as_bytes(), bytes)?;
        Ok(())
    }

    fn delete(&self, id: &str, rec: &Record) -> ConflictableTransactionResult<(), StoreError> {
        for (i, k, _) in entries(id, &rec.mention) {
            self.idx[i].remove(k)?;
        }
        for a in &rec.aliases {
            if self.alias(a)?.as_deref() == Some(id) {
                self.ids.remove(a.as_bytes())?;
            }
        }
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
        changed |= merge_brands(&mut rec.mention.brands, brands, same_post);
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

fn bucket_start(t: DateTime<Utc>, by: Bucket) -> NaiveDate {
    let d = t.date_naive();
    match by {
        Bucket::Day => d,
        Bucket::Week => d - ChronoDuration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

/// One row of an index scan.
struct Hit<'a> {
    id: &'a str,
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

    fn record(&self, id: &str) -> Result<Option<Record>, StoreError> {
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
        Ok(self.record(id)?.map(|r| StoredMention {
            id: id.to_string(),
            mention: r.mention,
            alerted_at: r.alerted_at,
        }))
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
        let (tree, prefix) = match (&f.brand, &sentiment) {
            (Some(b), _) => (&self.t.brand, group(b)),
            (None, Some(s)) => (&self.t.sentiment, group(s)),
            (None, None) => (&self.t.time, Vec::new()),
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
            None => {
                // prefix ends in \0: the next prefix ends in \x01
                let mut h = prefix.clone();
                if let Some(last) = h.last_mut() {
                    *last = 1;
                }
                Some(h)
            }
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

    /// Mentions per sentiment label per UTC day or week, oldest bucket first.
    pub fn stats(
        &self,
        brand: Option<&str>,
        since: Option<DateTime<Utc>>,
        by: Bucket,
    ) -> Result<Vec<StatsRow>, StoreError> {
        let f = MentionFilter {
            brand: brand.map(str::to_string),
            since,
            ..Default::default()
        };
        let mut rows: BTreeMap<NaiveDate, StatsRow> = BTreeMap::new();
        self.scan_timed(&f, |t, label| {
            let b = bucket_start(t, by);
            let row = rows.entry(b).or_insert_with(|| StatsRow {
                bucket: b,
                total: 0,
                counts: BTreeMap::new(),
            });
            row.total += 1;
            *row.counts.entry(label.to_string()).or_insert(0) += 1;
        })?;
        Ok(rows.into_values().collect())
    }

    /// Like `scan` but hands over each row's time and label (for stats).
    fn scan_timed(
        &self,
        f: &MentionFilter,
        mut visit: impl FnMut(DateTime<Utc>, &str),
    ) -> Result<(), StoreError> {
        let (tree, prefix) = match &f.brand {
            Some(b) => (&self.t.brand, group(b)),
            None => (&self.t.time, Vec::new()),
        };
        let mut lo = prefix.clone();
        if let Some(since) = f.since {
            lo.extend_from_slice(&keys::ts(since));
        }
        let iter = if prefix.is_empty() {
            tree.range(lo..)
        } else {
            let mut hi = prefix.clone();
            if let Some(last) = hi.last_mut() {
                *last = 1;
            }
            tree.range(lo..hi)
        };
        for item in iter {
            let (k, v) = item?;
            if let Some((t, _)) = split_tail(&k) {
                visit(t, parse_value(&v).label);
            }
        }
        Ok(())
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

    /// Checks that every index entry and alias agrees with the mentions, both ways.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        let mut expected = [0u64; 4];
        let mut missing = [false; 4];
        let mut expected_aliases = 0u64;
        for item in self.t.mentions.iter() {
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k).into_owned();
            report.mentions += 1;
            if !keys::is_id(&id) {
                report.problem(format!("mention key {id:?} is not an id"));
            }
            let rec = match decode(&id, &v) {
                Ok(r) => r,
                Err(e) => {
                    report.problem(e.to_string());
                    continue;
                }
            };
            for (i, key, value) in entries(&id, &rec.mention) {
                expected[i] += 1;
                match self.t.index(i).get(&key)? {
                    None => {
                        missing[i] = true;
                        report.problem(format!("mention {id}: missing from {}", INDEX_NAMES[i]))
                    }
                    Some(v) if *v != *value => {
                        report.problem(format!("mention {id}: stale entry in {}", INDEX_NAMES[i]))
                    }
                    Some(_) => {}
                }
            }
            for a in &rec.aliases {
                match self.t.ids.get(a.as_bytes())? {
                    Some(v) if *v == *id.as_bytes() => expected_aliases += 1,
                    Some(_) => {
                        report.problem(format!("mention {id}: alias {a:?} points elsewhere"))
                    }
                    None => report.problem(format!("mention {id}: alias {a:?} is missing")),
                }
            }
            if !rec
                .aliases
                .iter()
                .any(|a| *a == format!("p:{}", rec.mention.post.id))
            {
                report.problem(format!("mention {id}: its post id is not an alias"));
            }
        }
        for (i, want) in expected.iter().enumerate() {
            let tree = self.t.index(i);
            let have = tree.len() as u64;
            report.index_entries += have;
            // Every expected entry was found and the counts agree: nothing extra.
            if have == *want && !missing[i] {
                continue;
            }
            // Some entries point at nothing: find them.
            for item in tree.iter() {
                let (k, _) = item?;
                let Some((_, id)) = split_tail(&k) else {
                    report.problem(format!("{}: malformed key {k:?}", INDEX_NAMES[i]));
                    continue;
                };
                let ok = match self.record(id) {
                    Ok(Some(rec)) => entries(id, &rec.mention)
                        .iter()
                        .any(|(j, key, _)| *j == i && **key == *k),
                    _ => false,
                };
                if !ok {
                    report.problem(format!("{}: dangling entry for {id}", INDEX_NAMES[i]));
                }
            }
        }
        let have_aliases = self.t.ids.len() as u64;
        report.aliases = have_aliases;
        if have_aliases != expected_aliases {
            for item in self.t.ids.iter() {
                let (k, v) = item?;
                let id = String::from_utf8_lossy(&v).into_owned();
                let alias = String::from_utf8_lossy(&k).into_owned();
                let ok = matches!(self.record(&id), Ok(Some(rec)) if rec.aliases.contains(&alias));
                if !ok {
                    report.problem(format!(
                        "alias {alias:?} points at {id}, which does not list it"
                    ));
                }
            }
        }
        Ok(report)
    }

    /// Removes mentions whose post is older than `keep` (indexes and aliases too).
    /// Returns how many went. Durable on return.
    pub fn retention(&self, keep: std::time::Duration) -> Result<u64, StoreError> {
        let keep = ChronoDuration::from_std(keep)
            .map_err(|_| StoreError::Invalid(format!("retention {keep:?} is too long")))?;
        let cutoff = Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        self.remove_older_than(cutoff)
    }

    /// Removes mentions whose post time is before `cutoff`.
    pub fn remove_older_than(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let hi = keys::ts(cutoff).to_vec();
        let mut removed = 0u64;
        loop {
            let rows: Vec<(sled::IVec, String)> = self
                .t
                .time
                .range(..hi.clone())
                .keys()
                .take(500)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|k| {
                    let id = split_tail(&k)
                        .map(|(_, id)| id.to_string())
                        .unwrap_or_default();
                    (k, id)
                })
                .collect();
            if rows.is_empty() {
                break;
            }
            let n = self.t.transaction(|v| {
                let mut n = 0u64;
                for (key, id) in &rows {
                    match v.load(id)? {
                        Some(rec) => {
                            v.delete(id, &rec)?;
                            n += 1;
                        }
                        // an entry pointing at nothing: drop it so the loop ends
                        None => {
                            v.idx[0].remove(key)?;
                        }
                    }
                    // a record whose time entry disagrees would keep this key
                    v.idx[0].remove(key)?;
                }
                Ok(n)
            })?;
            removed += n;
        }
        self.flush()?;
        Ok(removed)
    }
}
