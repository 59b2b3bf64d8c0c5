//! When each source was first polled for each brand, in the `first_polls` tree: the
//! alert rules treat a mention first seen by then as backlog (written before overhear
//! listened), not as news (`[alerts] backlog`).
//!
//! Key `source \0 brand` (the brand lowercased), value [`keys::ts`] of the end of
//! that first poll. Written once per pair, never changed.

use chrono::{DateTime, Utc};

use super::{keys, Store, StoreError};

const TREE: &str = "first_polls";
/// In `meta`: set once the pairs of a store made before this tree were adopted.
const ADOPTED: &[u8] = b"first_polls_adopted";

fn key(source: &str, brand: &str) -> Vec<u8> {
    let mut k = source.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(brand.to_lowercase().as_bytes());
    k
}

impl Store {
    /// When `source` was first polled for `brand` (the end of that poll), if it was.
    pub fn first_poll(
        &self,
        source: &str,
        brand: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .tree(TREE)?
            .get(key(source, brand))?
            .and_then(|v| keys::ts_decode(&v)))
    }

    /// Records that a poll of `source` ended at `at` for each of `brands`, where no
    /// earlier poll is recorded. Durable on return when it recorded anything.
    pub fn note_polled(
        &self,
        source: &str,
        brands: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tree = self.tree(TREE)?;
        let mut wrote = false;
        for b in brands {
            let swapped =
                tree.compare_and_swap(key(source, b), None::<&[u8]>, Some(&keys::ts(at)[..]))?;
            wrote |= swapped.is_ok();
        }
        if wrote {
            self.flush()?;
        }
        Ok(())
    }

    /// Once per store: a store made before first polls were recorded has polled the
    /// sources it holds state for already, so each of them counts as polled (since
    /// forever) for each of `brands`: their next posts are news, as they were before.
    /// A new store adopts nothing. Returns how many sources were adopted.
    pub fn adopt_first_polls(&self, brands: &[String]) -> Result<usize, StoreError> {
        let meta = self.tree("meta")?;
        if meta.get(ADOPTED)?.is_some() {
            return Ok(0);
        }
        let sources = self.source_states()?;
        for (source, _) in &sources {
            self.note_polled(source, brands, DateTime::<Utc>::MIN_UTC)?;
        }
        meta.insert(ADOPTED, &b"1"[..])?;
        self.flush()?;
        Ok(sources.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::StateStore;

    #[test]
    fn the_first_poll_is_kept_per_source_and_brand_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let t1 = Utc::now();
        let t2 = t1 + chrono::Duration::minutes(5);
        {
            let s = Store::open(dir.path()).unwrap();
            assert_eq!(s.adopt_first_polls(&["Acme".into()]).unwrap(), 0);
            assert_eq!(s.first_poll("feed", "Acme").unwrap(), None);
            s.note_polled("feed", &["Acme".into()], t1).unwrap();
            // a later poll changes nothing; a new brand gets its own first poll
            s.note_polled("feed", &["acme".into(), "Beta".into()], t2)
                .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis());
        assert_eq!(ms(s.first_poll("feed", "ACME").unwrap()), ms(Some(t1)));
        assert_eq!(ms(s.first_poll("feed", "Beta").unwrap()), ms(Some(t2)));
        assert_eq!(s.first_poll("other", "Acme").unwrap(), None);
    }

    #[test]
    fn a_store_from_before_adopts_its_polled_sources_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        s.save("old-feed", b"cursor").unwrap();
        assert_eq!(s.adopt_first_polls(&["Acme".into()]).unwrap(), 1);
        assert_eq!(
            s.first_poll("old-feed", "Acme").unwrap(),
            Some(DateTime::<Utc>::MIN_UTC)
        );
        // a brand added later, or a source polled later, is not adopted
        s.save("new-feed", b"cursor").unwrap();
        assert_eq!(
            s.adopt_first_polls(&["Acme".into(), "Beta".into()])
                .unwrap(),
            0
        );
        assert_eq!(s.first_poll("old-feed", "Beta").unwrap(), None);
        assert_eq!(s.first_poll("new-feed", "Acme").unwrap(), None);
    }
}
