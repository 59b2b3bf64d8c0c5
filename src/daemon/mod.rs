//! The daemon: wires sources, matcher, store, classifier and alerts together.

mod config;

pub use config::{DaemonConfig, LogFormat};
