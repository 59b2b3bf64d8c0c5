//! discourse threads: not built yet (the lead's skeleton; the helper writes this file).

use url::Url;

use super::{no_target, Target, Thread, ThreadError};
use crate::post::Post;

pub(super) fn target(post: &Post, _base: &Url) -> Result<Target, ThreadError> {
    Err(no_target(post, "discourse threads are not built yet"))
}

pub(super) fn parse(_post: &Post, _status: u16, _body: &[u8]) -> Result<Thread, ThreadError> {
    Err(ThreadError::NoThreads("discourse".into()))
}
