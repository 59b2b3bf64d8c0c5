//! Sources: one file per kind of feed, behind one small trait. A source turns HTTP
//! responses into [`Post`](crate::post::Post)s and keeps its cursor in the store.

mod config;
mod state;

pub use config::*;
pub use state::{MemoryState, StateError, StateStore};
