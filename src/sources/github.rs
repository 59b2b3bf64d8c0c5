//! GitHub: not built yet (the lead's skeleton; the helper writes this file).

use super::{Fetched, GitHubConfig, Kind, NewestState, SourceContext, SourceError};

pub(crate) const DEFAULT_BASE: &str = "https://api.github.com";

pub(crate) struct GitHub;

impl GitHub {
    pub fn new(_cfg: &GitHubConfig, _ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!(
            "source {name:?}: the github source is not built yet"
        )))
    }
}

impl Kind for GitHub {
    type State = NewestState;
    const KIND: &'static str = "github";

    async fn fetch(&mut self, _state: &NewestState) -> Result<Fetched<NewestState>, SourceError> {
        Err(SourceError::Config(
            "the github source is not built yet".into(),
        ))
    }
}
