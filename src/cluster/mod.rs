//! More than one machine: a hub and any number of workers over NATS JetStream.
//!
//! ```text
//!  worker ─┐  lease per host (KV, TTL)       ┌─▶ hub: store (sled, idempotent by post id)
//!  worker ─┼─ poll → match → classify ─▶ stream {prefix}-results ─┤     commit cursor (KV) → ack
//!  worker ─┘  publish, Nats-Msg-Id            └─▶     alerts, outbox, API, inbox as today
//! ```
//!
//! * `config`: the `[cluster]` table.
//! * `wire`: the poll-result message, its parts and its deterministic message id.
//! * `lease`: who polls which host (one lease per host, fair share, renewal).
//! * `nats`: the connection and the stream and buckets, made idempotently.
//!
//! The workers' and hub's tasks live in `daemon::worker` and `daemon::hub`: this
//! module holds no pipeline logic, only what both sides of the wire share.
//!
//! # The promises, and what keeps them
//!
//! * *Nothing lost*: a worker advances a source's cursor (in its own memory) only
//!   after the server acknowledged every part of the poll; the hub stores the posts
//!   (flushed), then commits the cursor to the cursors bucket, then acknowledges.
//!   A worker that takes a host over starts from that committed cursor, so whatever a
//!   dead worker polled but the hub had not stored yet is polled again.
//! * *Nothing twice*: re-published parts are dropped by the server's duplicate window
//!   (`Nats-Msg-Id`); re-polled or redelivered posts are absorbed by the store, which
//!   is idempotent by post id, and a mention alerts only when it is new (the outbox
//!   is keyed by mention and destination).
//! * *One poller per host*: see `lease`.
//! * *Back-pressure*: the stream is bounded and refuses new messages when full; a
//!   worker then waits and retries, and does not poll that source again until the
//!   result is in.

pub mod config;
pub mod cursor;
pub mod lease;
pub mod nats;
pub mod wire;

pub use config::ClusterConfig;
pub use nats::{Cluster, ClusterError, CONFIG_KEY};
