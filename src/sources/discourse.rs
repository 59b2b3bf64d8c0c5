//! Discourse: not built yet (the lead's skeleton; the helper writes this file).

use super::{DiscourseConfig, Fetched, Kind, NewestState, SourceContext, SourceError};

pub(crate) struct Discourse;

impl Discourse {
    pub fn new(
        _cfg: &DiscourseConfig,
        _ctx: &SourceContext,
        name: &str,
    ) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!(
            "source {name:?}: the discourse source is not built yet"
        )))
    }
}

impl Kind for Discourse {
    type State = NewestState;
    const KIND: &'static str = "discourse";

    async fn fetch(&mut self, _state: &NewestState) -> Result<Fetched<NewestState>, SourceError> {
        Err(SourceError::Config(
            "the discourse source is not built yet".into(),
        ))
    }
}
