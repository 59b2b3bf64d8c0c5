//! The daemon: wires sources, matcher, store, classifier and alerts into one
//! service. This is the only place the stages meet (see `pipeline`).
//!
//! ```text
//! source tasks ──SourceBatch──▶ ingest (match + store) ──Job──▶ classifier ──▶ alert stage ──▶ outbox ──▶ sender
//!      ▲                              │ ack (durable)                                           (sled)
//!      └─────── commit cursor ◀───────┘
//! ```
//!
//! Every channel is bounded, so a slow stage slows the ones before it instead of
//! queueing without limit. A source's cursor advances only after its posts are
//! durably stored; an alert is in the outbox before its mention is marked
//! classified, so a crash at any point loses nothing and repeats nothing.

pub mod api;
pub mod classify;
mod config;
pub mod metrics;
pub mod notify;
mod pipeline;

pub use config::{DaemonConfig, LogFormat};
pub use pipeline::{run, DaemonError};
