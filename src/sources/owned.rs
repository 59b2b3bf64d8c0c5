//! An owned channel (`brand = NAME` on a `[[source]]` entry): every post the entry
//! yields is stamped with the brand, which the matcher then counts as a mention of it
//! ("owned channel") whatever the post says. Wraps any [`Source`]; changes nothing
//! else.

use std::time::Duration;

use super::{Cursor, PollFuture, Source, SourceHealth, StateError};

pub(crate) struct Owned {
    inner: Box<dyn Source>,
    brand: String,
}

impl Owned {
    pub(super) fn boxed(inner: Box<dyn Source>, brand: &str) -> Box<dyn Source> {
        Box::new(Owned {
            inner,
            brand: brand.trim().to_string(),
        })
    }
}

impl Source for Owned {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn poll(&mut self) -> PollFuture<'_> {
        Box::pin(async move {
            let mut batch = self.inner.poll().await?;
            for p in &mut batch.posts {
                p.owned_by = Some(self.brand.clone());
            }
            Ok(batch)
        })
    }

    fn commit(&mut self, cursor: Cursor) -> Result<(), StateError> {
        self.inner.commit(cursor)
    }

    fn health(&self) -> SourceHealth {
        self.inner.health()
    }

    fn next_delay(&self) -> Duration {
        self.inner.next_delay()
    }
}
