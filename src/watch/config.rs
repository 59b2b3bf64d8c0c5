//! The watch settings of each brand, read from its `[[brand]]` entry: `accounts`,
//! `watch_for`, `watch_schedule`, `resolve_when_answered`.

use std::time::Duration;

use super::threads::{parse_accounts, Account};
use crate::matcher::BrandConfig;
use crate::util::Problem;

/// How long a thread is watched when the brand does not say.
pub const DEFAULT_WATCH_FOR: Duration = Duration::from_secs(72 * 3600);

/// The delays between checks when the brand does not say: the last repeats.
pub const DEFAULT_SCHEDULE: [Duration; 4] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(4 * 3600),
];

/// One brand's watch.
#[derive(Debug, Clone, PartialEq)]
pub struct BrandWatch {
    pub brand: String,
    pub accounts: Vec<Account>,
    pub watch_for: Duration,
    /// Never empty.
    pub schedule: Vec<Duration>,
    pub resolve_when_answered: bool,
}

impl BrandWatch {
    /// The delay before check number `attempt` (0: the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let i = (attempt as usize).min(self.schedule.len().saturating_sub(1));
        self.schedule.get(i).copied().unwrap_or(DEFAULT_SCHEDULE[0])
    }
}

/// Why a brand's watch settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct WatchConfigError {
    pub key: String,
    pub message: String,
}

/// The watch of `b`: `None` when it lists no accounts (nothing could answer).
pub fn brand_watch(i: usize, b: &BrandConfig) -> Result<Option<BrandWatch>, WatchConfigError> {
    if b.accounts.is_empty() {
        return Ok(None);
    }
    let accounts = parse_accounts(&b.accounts).map_err(|e| WatchConfigError {
        key: format!("brand[{i}].accounts"),
        message: e.to_string(),
    })?;
    let schedule = match &b.watch_schedule {
        None => DEFAULT_SCHEDULE.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for s in list {
                let d = crate::util::duration::parse(s).map_err(|e| WatchConfigError {
                    key: format!("brand[{i}].watch_schedule"),
                    message: format!("{s:?}: {e}"),
                })?;
                if d < Duration::from_secs(1) {
                    return Err(WatchConfigError {
                        key: format!("brand[{i}].watch_schedule"),
                        message: format!(
                            "{s:?} is under a second: threads are checked at most once a second"
                        ),
                    });
                }
                out.push(d);
            }
            if out.is_empty() {
                return Err(WatchConfigError {
                    key: format!("brand[{i}].watch_schedule"),
                    message: "is empty: give at least one delay, e.g. [\"5m\", \"1h\"]".into(),
                });
            }
            out
        }
    };
    Ok(Some(BrandWatch {
        brand: b.name.clone(),
        accounts,
        watch_for: b.watch_for.unwrap_or(DEFAULT_WATCH_FOR),
        schedule,
        resolve_when_answered: b.resolve_when_answered,
    }))
}

/// Every brand's watch (brands without accounts have none).
pub fn brand_watches(brands: &[BrandConfig]) -> Result<Vec<BrandWatch>, WatchConfigError> {
    let mut out = Vec::new();
    for (i, b) in brands.iter().enumerate() {
        if let Some(w) = brand_watch(i, b)? {
            out.push(w);
        }
    }
    Ok(out)
}

/// What `overhear check` says about the brands' watch settings.
pub fn problems(brands: &[BrandConfig]) -> Vec<Problem> {
    brands
        .iter()
        .enumerate()
        .filter_map(|(i, b)| brand_watch(i, b).err())
        .map(|e| Problem::new(e.key, e.message))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_bad_ones_are_named() {
        let mut b = BrandConfig::from_query("Acme", "acme");
        assert_eq!(brand_watch(0, &b).unwrap(), None);
        b.accounts = vec!["hackernews:acme_support".into()];
        let w = brand_watch(0, &b).unwrap().unwrap();
        assert_eq!(w.watch_for, DEFAULT_WATCH_FOR);
        assert_eq!(w.delay(0), Duration::from_secs(300));
        assert_eq!(w.delay(9), Duration::from_secs(4 * 3600));
        b.watch_schedule = Some(vec!["1s".into(), "2s".into()]);
        let w = brand_watch(0, &b).unwrap().unwrap();
        assert_eq!(
            (w.delay(0), w.delay(1), w.delay(2)),
            (
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(2)
            )
        );
        b.watch_schedule = Some(vec![]);
        assert_eq!(
            problems(std::slice::from_ref(&b))[0].key,
            "brand[0].watch_schedule"
        );
        b.watch_schedule = Some(vec!["soon".into()]);
        assert!(brand_watch(0, &b).is_err());
        b.watch_schedule = None;
        b.accounts = vec!["myspace:acme".into()];
        let e = brand_watch(3, &b).unwrap_err();
        assert_eq!(e.key, "brand[3].accounts");
    }
}
