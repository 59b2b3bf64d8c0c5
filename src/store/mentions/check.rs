//! `db check`: every index entry (the status index among them), alias and counter
//! agrees with the mentions, both ways; each mention's triage state agrees with its
//! history; every feedback entry is readable.
//!
//! Reads only: it reports what is wrong and never repairs it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::keys::{self, split_tail};
use super::super::{Store, StoreError};
use super::counts::{describe, facts, read_u64};
use super::index::{decode, entries, INDEX_NAMES};

/// What [`Store::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub mentions: u64,
    pub index_entries: u64,
    pub aliases: u64,
    /// Mentions per triage state (`new`, `acknowledged`, ...).
    #[serde(default)]
    pub statuses: BTreeMap<String, u64>,
    /// Entries in the `feedback` tree.
    #[serde(default)]
    pub feedback: u64,
    /// Counters in the `counts` tree.
    #[serde(default)]
    pub counters: u64,
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

impl Store {
    /// Checks that every index entry and alias agrees with the mentions, both ways.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        let mut report = CheckReport::default();
        let mut expected = [0u64; 5];
        let mut missing = [false; 5];
        let mut expected_aliases = 0u64;
        let mut want_counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        let mut expected_triaged = 0u64;
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
            *report
                .statuses
                .entry(rec.triage.status.to_string())
                .or_insert(0) += 1;
            if let Some(last) = rec.triage.history.last() {
                if last.to != rec.triage.status {
                    report.problem(format!(
                        "mention {id}: it is {} but its history ends at {}",
                        rec.triage.status, last.to
                    ));
                }
            }
            for f in facts(&rec) {
                *want_counts.entry(f).or_insert(0) += 1;
            }
            let summary = super::triaged::of_record(&rec);
            let have = self.t.triaged.get(id.as_bytes())?;
            let have: Option<super::Triaged> = have.and_then(|v| serde_json::from_slice(&v).ok());
            if summary.is_some() {
                expected_triaged += 1;
            }
            if have != summary {
                report.problem(format!("mention {id}: its triaged summary is stale"));
            }
            for (i, key, value) in entries(&id, &rec) {
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
                    Ok(Some(rec)) => entries(id, &rec)
                        .iter()
                        .any(|(j, key, _)| *j == i && **key == *k),
                    _ => false,
                };
                if !ok {
                    report.problem(format!("{}: dangling entry for {id}", INDEX_NAMES[i]));
                }
            }
        }
        self.check_counts(&want_counts, &mut report)?;
        if self.t.triaged.len() as u64 != expected_triaged {
            for item in self.t.triaged.iter() {
                let (k, _) = item?;
                let id = String::from_utf8_lossy(&k).into_owned();
                if self.t.mentions.get(&k)?.is_none() {
                    report.problem(format!("triaged: a summary for {id}, which is not stored"));
                }
            }
        }
        for item in self.t.feedback.iter() {
            let (k, v) = item?;
            report.feedback += 1;
            if serde_json::from_slice::<super::Feedback>(&v).is_err() {
                let id = String::from_utf8_lossy(&k);
                report.problem(format!("feedback for {id} is unreadable"));
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

    /// Every counter agrees with what the mentions say, both ways.
    fn check_counts(
        &self,
        want: &BTreeMap<Vec<u8>, u64>,
        report: &mut CheckReport,
    ) -> Result<(), StoreError> {
        for item in self.t.counts.iter() {
            let (k, v) = item?;
            report.counters += 1;
            let have = read_u64(&v);
            let should = want.get(&*k).copied().unwrap_or(0);
            if have != should {
                report.problem(format!(
                    "counter of {} is {have}, the mentions say {should}",
                    describe(&k)
                ));
            }
        }
        for (k, n) in want {
            if self.t.counts.get(k)?.is_none() {
                report.problem(format!(
                    "counter of {} is missing (the mentions say {n})",
                    describe(k)
                ));
            }
        }
        Ok(())
    }
}
