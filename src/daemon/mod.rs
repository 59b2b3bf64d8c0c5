//! The daemon: wires sources, matcher, store, classifier and alerts into one
//! service. This is the only place the stages meet: `pipeline` starts them and owns
//! the channels; each stage task has its own file (`source_tasks`, `ingest`,
//! `classify`, `alert_stage`, `scheduler`), `shared` is the state they share and
//! `reload` swaps a config generation in.
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
//!
//! The daemon holds no pipeline logic of its own (matching, classifying, rendering
//! and sending stay in their components), and nothing outside it starts its tasks.

mod alert_stage;
pub mod api;
pub mod classify;
mod config;
mod hub;
mod ingest;
pub mod metrics;
pub mod notify;
mod pipeline;
mod reload;
mod retry;
mod scheduler;
mod shared;
mod source_tasks;
mod watcher;
pub mod worker;

pub use config::{DaemonConfig, LogFormat};
pub use pipeline::{run, DaemonError};
