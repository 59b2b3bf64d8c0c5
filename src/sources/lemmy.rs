//! Lemmy: not built yet (the lead's skeleton; the helper writes this file).

use super::{Fetched, Kind, LemmyConfig, NewestState, SourceContext, SourceError};

pub(crate) struct Lemmy;

impl Lemmy {
    pub fn new(_cfg: &LemmyConfig, _ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!(
            "source {name:?}: the lemmy source is not built yet"
        )))
    }
}

impl Kind for Lemmy {
    type State = NewestState;
    const KIND: &'static str = "lemmy";

    async fn fetch(&mut self, _state: &NewestState) -> Result<Fetched<NewestState>, SourceError> {
        Err(SourceError::Config(
            "the lemmy source is not built yet".into(),
        ))
    }
}
