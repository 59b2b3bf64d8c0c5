//! AppStore: not built yet (the lead's skeleton; the helper writes this file).

use super::{AppStoreConfig, Fetched, Kind, NewestState, SourceContext, SourceError};

pub(crate) const DEFAULT_BASE: &str = "https://itunes.apple.com";

pub(crate) struct AppStore;

impl AppStore {
    pub fn new(
        _cfg: &AppStoreConfig,
        _ctx: &SourceContext,
        name: &str,
    ) -> Result<Self, SourceError> {
        Err(SourceError::Config(format!(
            "source {name:?}: the appstore source is not built yet"
        )))
    }
}

impl Kind for AppStore {
    type State = NewestState;
    const KIND: &'static str = "appstore";

    async fn fetch(&mut self, _state: &NewestState) -> Result<Fetched<NewestState>, SourceError> {
        Err(SourceError::Config(
            "the appstore source is not built yet".into(),
        ))
    }
}
