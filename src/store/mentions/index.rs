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

    pub(super) fn index(&self, i: usize) -> &sled::Tree {
        match i {
            0 => &self.time,
            1 => &self.brand,
            2 => &self.sentiment,
            _ => &self.unclassified,
        }
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

pub(super) const INDEX_NAMES: [&str; 4] =
    ["idx_time", "idx_brand", "idx_sentiment", "idx_unclassified"];

pub(super) struct View<'a> {
    pub(super) mentions: &'a TransactionalTree,
    pub(super) ids: &'a TransactionalTree,
    pub(super) idx: [&'a TransactionalTree; 4],
}

pub(super) type Entry = (usize, Vec<u8>, Vec<u8>);

pub(super) fn abort<E: Into<StoreError>>(e: E) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e.into())
}

fn label_of(m: &Mention) -> String {
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

/// The index value: `label \0 source \0 source_name`.
fn index_value(m: &Mention) -> Vec<u8> {
    let mut v = label_of(m).into_bytes();
    v.push(0);
    v.extend_from_slice(m.post.source.as_bytes());
    v.push(0);
    v.extend_from_slice(m.post.source_name.as_bytes());
    v
}

pub(super) struct IndexValue<'a> {
    pub(super) label: &'a str,
    pub(super) source: &'a str,
    pub(super) source_name: &'a str,
}

pub(super) fn parse_value(v: &[u8]) -> IndexValue<'_> {
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
pub(super) fn entries(id: &str, m: &Mention) -> Vec<Entry> {
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
