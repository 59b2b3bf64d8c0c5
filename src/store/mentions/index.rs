//! The mention trees, the index entries each mention should have, and one
//! transaction over all the trees.
//!
//! Only this file decides which entries a mention gets ([`entries`]) and how an
//! entry's value is encoded ([`parse_value`] reads it back); the other files go
//! through [`Trees`] and [`View`]. It never writes on its own: callers decide what
//! to store.

use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use sled::Transactional;

use super::super::keys::{grouped, timed};
use super::super::StoreError;
use super::triage::{Status, Triage};
use super::{Record, UNCLASSIFIED};
use crate::post::{Mention, Post};

#[derive(Clone)]
pub(crate) struct Trees {
    pub(super) mentions: sled::Tree,
    pub(super) ids: sled::Tree,
    pub(super) time: sled::Tree,
    pub(super) brand: sled::Tree,
    pub(super) sentiment: sled::Tree,
    pub(super) unclassified: sled::Tree,
    pub(super) status: sled::Tree,
    /// Mention id -> JSON [`Feedback`](super::triage::Feedback): not an index.
    pub(super) feedback: sled::Tree,
    /// Counters kept at write time (see [`super::counts`]).
    pub(super) counts: sled::Tree,
    /// Id -> summary of a triaged mention (see [`super::triaged`]).
    pub(super) triaged: sled::Tree,
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
            status: db.open_tree("idx_status")?,
            feedback: db.open_tree("feedback")?,
            counts: db.open_tree("counts")?,
            triaged: db.open_tree("triaged")?,
        })
    }

    pub(super) fn index(&self, i: usize) -> &sled::Tree {
        match i {
            0 => &self.time,
            1 => &self.brand,
            2 => &self.sentiment,
            3 => &self.unclassified,
            _ => &self.status,
        }
    }

    /// Adds every mention's `idx_status` entry (the schema 1 -> 2 upgrade); a record
    /// that does not decode is left for `check` to report. Returns how many.
    pub(crate) fn add_status_index(&self) -> Result<u64, StoreError> {
        let mut n = 0u64;
        let mut batch = sled::Batch::default();
        for item in self.mentions.iter() {
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k).into_owned();
            let Ok(rec) = decode(&id, &v) else {
                continue;
            };
            for (i, key, value) in entries(&id, &rec) {
                if i == STATUS {
                    batch.insert(key, value);
                    n += 1;
                }
            }
            if n % 1000 == 0 {
                self.status.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.status.apply_batch(batch)?;
        Ok(n)
    }

    /// Runs `f` in one transaction over every mention tree.
    pub(super) fn transaction<A>(
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
            &self.status,
            &self.feedback,
            &self.counts,
            &self.triaged,
        )
            .transaction(|(m, ids, t, b, s, u, st, feedback, counts, triaged)| {
                f(&View {
                    mentions: m,
                    ids,
                    idx: [t, b, s, u, st],
                    feedback,
                    counts,
                    triaged,
                })
            });
        r.map_err(|e| match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Sled(e),
        })
    }
}

pub(super) const INDEX_NAMES: [&str; 5] = [
    "idx_time",
    "idx_brand",
    "idx_sentiment",
    "idx_unclassified",
    "idx_status",
];
/// The status index's number in [`INDEX_NAMES`] and [`View::idx`].
pub(super) const STATUS: usize = 4;

pub(super) struct View<'a> {
    pub(super) mentions: &'a TransactionalTree,
    pub(super) ids: &'a TransactionalTree,
    pub(super) idx: [&'a TransactionalTree; 5],
    pub(super) feedback: &'a TransactionalTree,
    pub(super) counts: &'a TransactionalTree,
    pub(super) triaged: &'a TransactionalTree,
}

pub(super) type Entry = (usize, Vec<u8>, Vec<u8>);

pub(super) fn abort<E: Into<StoreError>>(e: E) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

pub(super) fn label_of(m: &Mention) -> String {
    m.sentiment
        .as_ref()
        .map(|s| s.label.to_lowercase())
        .unwrap_or_else(|| UNCLASSIFIED.to_string())
}

pub(super) fn source_name(p: &Post) -> &str {
    if p.source_name.is_empty() {
        &p.source
    } else {
        &p.source_name
    }
}

/// The index value: `label \0 source \0 source_name`, then `\0 status \0 assignee`
/// unless the mention is untriaged (`new`, nobody assigned), so that values written
/// before triage existed still read right.
fn index_value(m: &Mention, t: &Triage) -> Vec<u8> {
    let mut v = label_of(m).into_bytes();
    v.push(0);
    v.extend_from_slice(m.post.source.as_bytes());
    v.push(0);
    v.extend_from_slice(m.post.source_name.as_bytes());
    if t.status != Status::New || t.assignee.is_some() {
        v.push(0);
        v.extend_from_slice(t.status.as_str().as_bytes());
        v.push(0);
        v.extend_from_slice(t.assignee.as_deref().unwrap_or("").as_bytes());
    }
    v
}

pub(super) struct IndexValue<'a> {
    pub(super) label: &'a str,
    pub(super) source: &'a str,
    pub(super) source_name: &'a str,
    pub(super) status: &'a str,
    /// Empty when nobody is assigned.
    pub(super) assignee: &'a str,
}

pub(super) fn parse_value(v: &[u8]) -> IndexValue<'_> {
    let mut it = v
        .split(|b| *b == 0)
        .map(|p| std::str::from_utf8(p).unwrap_or(""));
    IndexValue {
        label: it.next().unwrap_or(""),
        source: it.next().unwrap_or(""),
        source_name: it.next().unwrap_or(""),
        status: it.next().unwrap_or(Status::New.as_str()),
        assignee: it.next().unwrap_or(""),
    }
}

/// Every index entry a mention should have: (index number, key, value).
pub(super) fn entries(id: &str, rec: &Record) -> Vec<Entry> {
    let m = &rec.mention;
    let t = m.post.created_at;
    let value = index_value(m, &rec.triage);
    let mut out = vec![(0, timed(t, id), value.clone())];
    let mut brands: Vec<String> = m.brands.iter().map(|b| b.brand.to_lowercase()).collect();
    brands.sort();
    brands.dedup();
    for b in brands {
        out.push((1, grouped(&b, t, id), value.clone()));
    }
    out.push((2, grouped(&label_of(m), t, id), value.clone()));
    if m.sentiment.is_none() {
        out.push((3, timed(m.first_seen, id), Vec::new()));
    }
    out.push((STATUS, grouped(rec.triage.status.as_str(), t, id), value));
    out
}

pub(super) fn decode(id: &str, bytes: &[u8]) -> Result<Record, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        StoreError::Invalid(format!(
            "mention {id} is stored in a form this build cannot read: {e}"
        ))
    })
}

impl View<'_> {
    pub(super) fn load(
        &self,
        id: &str,
    ) -> ConflictableTransactionResult<Option<Record>, StoreError> {
        match self.mentions.get(id.as_bytes())? {
            Some(b) => Ok(Some(decode(id, &b).map_err(abort)?)),
            None => Ok(None),
        }
    }

    pub(super) fn alias(
        &self,
        key: &str,
    ) -> ConflictableTransactionResult<Option<String>, StoreError> {
        Ok(self
            .ids
            .get(key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

/// The first key after every key that starts with `prefix` (a group prefix ends in
/// `\0`; the next one ends in `\x01`).
pub(super) fn group_end(prefix: &[u8]) -> Vec<u8> {
    let mut h = prefix.to_vec();
    if let Some(last) = h.last_mut() {
        *last = 1;
    }
    h
}
