//! The bounded window of ids a source emitted last, kept inside its cursor, so that a
//! restart never re-emits and items a server repeats are dropped. Pure data: never
//! touches the network or the state store.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::post::Post;

/// A bounded window of the ids a source emitted last, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    ids: VecDeque<String>,
    #[serde(skip)]
    index: Option<HashSet<String>>,
}

/// How many ids each source remembers.
pub const SEEN_WINDOW: usize = 2000;

impl Seen {
    pub fn contains(&mut self, id: &str) -> bool {
        if self.index.is_none() {
            self.index = Some(self.ids.iter().cloned().collect());
        }
        self.index.as_ref().is_some_and(|i| i.contains(id))
    }

    /// Remembers `id`; false if it was already there.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.contains(id) {
            return false;
        }
        self.ids.push_back(id.to_string());
        if let Some(i) = self.index.as_mut() {
            i.insert(id.to_string());
        }
        while self.ids.len() > SEEN_WINDOW {
            if let Some(old) = self.ids.pop_front() {
                if let Some(i) = self.index.as_mut() {
                    i.remove(&old);
                }
            }
        }
        true
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Keeps the posts not seen before (nor twice in this batch), remembering them.
pub(crate) fn keep_new(seen: &mut Seen, posts: Vec<Post>) -> Vec<Post> {
    posts.into_iter().filter(|p| seen.insert(&p.id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_window_is_bounded_and_survives_serde() {
        let mut s = Seen::default();
        for i in 0..SEEN_WINDOW + 10 {
            assert!(s.insert(&i.to_string()));
        }
        assert_eq!(s.len(), SEEN_WINDOW);
        assert!(!s.contains("0"));
        let bytes = serde_json::to_vec(&s).unwrap();
        let mut back: Seen = serde_json::from_slice(&bytes).unwrap();
        assert!(back.contains(&(SEEN_WINDOW + 9).to_string()));
        assert!(!back.insert("20"));
    }
}
