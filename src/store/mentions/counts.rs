//! Counters kept at write time, so that the dashboard, the inbox's header and
//! `overhear stats` read a few hundred keys instead of walking an index.
//!
//! The `counts` tree holds one `u64` (big-endian) per key; a key that would hold 0
//! is removed. Each key is a fact about a mention, and every write moves a mention's
//! facts in the same transaction as its index entries ([`View::move_counts`]), so the
//! counters never disagree with the mentions after a crash; `db check` recounts them.
//!
//! | key | counts |
//! |---|---|
//! | `d \0 brand \0 day label` | mentions per brand (empty: all) per UTC day of the post, per label |
//! | `s \0 status \0 label \0 brand` | mentions per triage state and label, per brand (empty: all) |
//! | `w \0 brand \0 day source` | negative mentions from sources with threads, per brand, UTC day and source kind |
//!
//! `day` is 4 bytes in an order-preserving encoding; labels are lowercase, brands
//! lowercased.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use sled::transaction::ConflictableTransactionResult;

use super::super::keys::group;
use super::super::StoreError;
use super::index::{decode, label_of, View};
use super::Record;
use crate::post::THREADED_KINDS;

/// The facts a record adds one to.
pub(super) fn facts(rec: &Record) -> Vec<Vec<u8>> {
    let m = &rec.mention;
    let label = label_of(m);
    let status = rec.triage.status.as_str();
    let t = m.post.created_at;
    let mut brands: Vec<String> = m.brands.iter().map(|b| b.brand.to_lowercase()).collect();
    brands.sort();
    brands.dedup();
    let mut out = Vec::with_capacity(2 * brands.len() + 2);
    for b in std::iter::once("").chain(brands.iter().map(String::as_str)) {
        out.push(day_key(b, t.date_naive(), &label));
        out.push(status_key(status, &label, b));
    }
    // the negatives the brand could answer in public (`overhear stats --responses`)
    if label == "negative" && THREADED_KINDS.contains(&m.post.source.as_str()) {
        for b in &brands {
            out.push(threaded_key(b, t.date_naive(), &m.post.source));
        }
    }
    out
}

fn threaded_key(brand: &str, d: NaiveDate, source: &str) -> Vec<u8> {
    let mut k = b"w\0".to_vec();
    k.extend_from_slice(&group(brand));
    k.extend_from_slice(&day_bytes(d));
    k.extend_from_slice(source.as_bytes());
    k
}

fn day_of(b: &[u8]) -> Option<NaiveDate> {
    let arr: [u8; 4] = b.get(..4)?.try_into().ok()?;
    NaiveDate::from_num_days_from_ce_opt((u32::from_be_bytes(arr) ^ (1 << 31)) as i32)
}

fn day_prefix(brand: &str) -> Vec<u8> {
    let mut k = b"d\0".to_vec();
    k.extend_from_slice(&group(brand));
    k
}

fn day_bytes(d: NaiveDate) -> [u8; 4] {
    ((d.num_days_from_ce() as u32) ^ (1 << 31)).to_be_bytes()
}

fn day_key(brand: &str, d: NaiveDate, label: &str) -> Vec<u8> {
    let mut k = day_prefix(brand);
    k.extend_from_slice(&day_bytes(d));
    k.extend_from_slice(label.as_bytes());
    k
}

fn status_key(status: &str, label: &str, brand: &str) -> Vec<u8> {
    let mut k = b"s\0".to_vec();
    k.extend_from_slice(&group(status));
    k.extend_from_slice(&group(label));
    k.extend_from_slice(brand.to_lowercase().as_bytes());
    k
}

pub(super) fn read_u64(v: &[u8]) -> u64 {
    v.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

/// How each counter changes when `old` becomes `new` (either may be absent).
pub(super) fn deltas(old: Option<&Record>, new: Option<&Record>) -> BTreeMap<Vec<u8>, i64> {
    let mut d: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for k in old.map(facts).unwrap_or_default() {
        *d.entry(k).or_insert(0) -= 1;
    }
    for k in new.map(facts).unwrap_or_default() {
        *d.entry(k).or_insert(0) += 1;
    }
    d.retain(|_, v| *v != 0);
    d
}

fn apply(have: u64, delta: i64) -> u64 {
    if delta < 0 {
        have.saturating_sub(delta.unsigned_abs())
    } else {
        have.saturating_add(delta.unsigned_abs())
    }
}

impl View<'_> {
    /// Moves the counters from what `old` counted to what `new` counts.
    pub(super) fn move_counts(
        &self,
        old: Option<&Record>,
        new: Option<&Record>,
    ) -> ConflictableTransactionResult<(), StoreError> {
        for (k, delta) in deltas(old, new) {
            let have = self.counts.get(&k)?.map_or(0, |v| read_u64(&v));
            match apply(have, delta) {
                0 => {
                    self.counts.remove(k)?;
                }
                n => {
                    self.counts.insert(k, &n.to_be_bytes())?;
                }
            }
        }
        Ok(())
    }
}

/// Reads the counters back.
pub(crate) struct Counts<'a>(pub(super) &'a sled::Tree);

impl Counts<'_> {
    fn get(&self, k: &[u8]) -> Result<u64, StoreError> {
        Ok(self.0.get(k)?.map_or(0, |v| read_u64(&v)))
    }

    /// Mentions of `brand` (`None`: all brands) per UTC day from `since` on, per label.
    pub(super) fn per_day(
        &self,
        brand: Option<&str>,
        since: Option<NaiveDate>,
    ) -> Result<BTreeMap<NaiveDate, BTreeMap<String, u64>>, StoreError> {
        let prefix = day_prefix(brand.unwrap_or(""));
        let mut lo = prefix.clone();
        if let Some(s) = since {
            lo.extend_from_slice(&day_bytes(s));
        }
        let mut hi = prefix.clone();
        if let Some(last) = hi.last_mut() {
            *last = 1;
        }
        let mut out: BTreeMap<NaiveDate, BTreeMap<String, u64>> = BTreeMap::new();
        for item in self.0.range(lo..hi) {
            let (k, v) = item?;
            let Some(rest) = k.get(prefix.len()..) else {
                continue;
            };
            let Some(day) = rest
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| (u32::from_be_bytes(b) ^ (1 << 31)) as i32)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
            else {
                continue;
            };
            let label = String::from_utf8_lossy(&rest[4..]).into_owned();
            *out.entry(day).or_default().entry(label).or_insert(0) += read_u64(&v);
        }
        Ok(out)
    }

    /// Negative mentions from sources with threads per (brand, UTC day, source
    /// kind), from `since` on.
    pub(super) fn threaded_negatives(
        &self,
        since: NaiveDate,
    ) -> Result<Vec<(String, NaiveDate, String, u64)>, StoreError> {
        let mut out = Vec::new();
        for item in self.0.scan_prefix(b"w\0") {
            let (k, v) = item?;
            let rest = &k[2..];
            let Some(end) = rest.iter().position(|b| *b == 0) else {
                continue;
            };
            let tail = &rest[end + 1..];
            let Some(day) = day_of(tail) else {
                continue;
            };
            if day < since {
                continue;
            }
            out.push((
                String::from_utf8_lossy(&rest[..end]).into_owned(),
                day,
                String::from_utf8_lossy(&tail[4..]).into_owned(),
                read_u64(&v),
            ));
        }
        Ok(out)
    }

    /// Mentions in `status` labelled `label` of `brand` (`None`: all brands).
    pub(super) fn in_status(
        &self,
        status: &str,
        label: &str,
        brand: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.get(&status_key(
            status,
            &label.to_lowercase(),
            brand.unwrap_or(""),
        ))
    }
}

impl super::Trees {
    /// Recounts every counter and rebuilds every triaged summary from the mentions
    /// (the schema 2 -> 3 upgrade, and `db reindex`); a record that does not decode is left for `check` to report.
    /// Returns how many mentions were counted.
    pub(crate) fn recount(&self) -> Result<u64, StoreError> {
        let mut want: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut n = 0u64;
        self.triaged.clear()?;
        let mut summaries = sled::Batch::default();
        for item in self.mentions.iter() {
            let (k, v) = item?;
            let id = String::from_utf8_lossy(&k).into_owned();
            let Ok(rec) = decode(&id, &v) else {
                continue;
            };
            n += 1;
            if let Some(t) = super::triaged::of_record(&rec) {
                let bytes = serde_json::to_vec(&t)
                    .map_err(|e| StoreError::Invalid(format!("mention {id}: {e}")))?;
                summaries.insert(k.as_ref(), bytes);
            }
            for f in facts(&rec) {
                *want.entry(f).or_insert(0) += 1;
            }
        }
        self.counts.clear()?;
        let mut batch = sled::Batch::default();
        for (i, (k, v)) in want.into_iter().enumerate() {
            batch.insert(k, &v.to_be_bytes());
            if i % 10_000 == 9_999 {
                self.counts.apply_batch(std::mem::take(&mut batch))?;
            }
        }
        self.counts.apply_batch(batch)?;
        self.triaged.apply_batch(summaries)?;
        Ok(n)
    }
}

/// A counter's key in words, for `db check`.
pub(super) fn describe(k: &[u8]) -> String {
    match k.first() {
        Some(b'd') if k.len() >= 7 => {
            let rest = &k[2..];
            let brand_end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let brand = String::from_utf8_lossy(&rest[..brand_end]);
            let tail = rest.get(brand_end + 1..).unwrap_or_default();
            let day = tail
                .get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| (u32::from_be_bytes(b) ^ (1 << 31)) as i32)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .map_or("?".to_string(), |d| d.to_string());
            let label = String::from_utf8_lossy(tail.get(4..).unwrap_or_default());
            let brand = if brand.is_empty() {
                "all brands".into()
            } else {
                brand
            };
            format!("mentions of {brand} on {day} labelled {label}")
        }
        Some(b's') => {
            let parts: Vec<String> = k[2..]
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let get = |i: usize| parts.get(i).cloned().unwrap_or_default();
            let brand = if get(2).is_empty() {
                "all brands".into()
            } else {
                get(2)
            };
            format!("{} {} mentions of {brand}", get(0), get(1))
        }
        Some(b'w') if k.len() >= 7 => {
            let rest = &k[2..];
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let tail = rest.get(end + 1..).unwrap_or_default();
            let day = day_of(tail).map_or("?".to_string(), |d| d.to_string());
            format!(
                "negative mentions of {} on {day} from {}",
                String::from_utf8_lossy(&rest[..end]),
                String::from_utf8_lossy(tail.get(4..).unwrap_or_default())
            )
        }
        _ => format!("unknown counter {:?}", String::from_utf8_lossy(k)),
    }
}

impl super::super::Store {
    /// Recounts every counter from the mentions (`db reindex`; the daemon must not be
    /// writing). Returns how many mentions were counted.
    pub fn recount(&self) -> Result<u64, StoreError> {
        let n = self.t.recount()?;
        self.flush()?;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "counts_tests.rs"]
mod tests;
