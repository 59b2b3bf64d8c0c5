//! DevTo: not built yet (the lead's skeleton; the helper writes this file).

use super::{DevToConfig, Fetched, Kind, NewestState, SourceContext, SourceError};

pub(crate) const DEFAULT_BASE: &str = "https://dev.to";

pub(crate) struct DevTo;

impl DevTo {
    pub fn new(_cfg: &DevToConfig, _ctx: &SourceContext, name: &str) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!(
            "source {name:?}: the devto source is not built yet"
        )))
    }
}

impl Kind for DevTo {
    type State = NewestState;
    const KIND: &'static str = "devto";

    async fn fetch(&mut self, _state: &NewestState) -> Result<Fetched<NewestState>, SourceError> {
        Err(SourceError::Config(
            "the devto source is not built yet".into(),
        ))
    }
}
