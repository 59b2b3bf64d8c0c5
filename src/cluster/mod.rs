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
//! * `cursor`: whether a cursor moves a source forward (the hub refuses one that
//!   moves it back).
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
//!
//! # The trust boundary
//!
//! The hub is trusted; a worker, and anyone holding a worker's NATS credentials, is
//! not. What keeps each side to its part:
//!
//! * *NATS permissions* (`contrib/cluster/nats-server.conf`): the hub and the workers
//!   are separate users. Workers may publish results, write leases and heartbeats,
//!   and read the config and the cursors; only the hub writes the config bucket and
//!   the cursors bucket, makes the stream and buckets ([`Cluster::connect`]; workers
//!   only open them, [`Cluster::join`]) and consumes the results.
//! * *A worker's own file decides what the hub's config may make it do*
//!   (`daemon::worker::trust`): a config whose sources name a secret (`*_env`,
//!   `*_file`) not in the worker's `[cluster] allow_secrets`, or set `allow_private`
//!   while the worker's `[cluster] allow_private` is false, is refused as a whole;
//!   the worker keeps its previous config (or runs none) and says why in `/healthz`
//!   (`config_refused`, names only). So even a forged config cannot make a worker
//!   send its secrets to a host of the forger's choosing.
//! * *The hub checks every result* (`daemon::hub`): only for a source of its own
//!   config; each post re-matched against the hub's own brands (a brand the hub's
//!   matcher does not give, a post no brand matches or of another kind than its
//!   source, is dropped: a forged brand never alerts); the cursor committed only
//!   from the worker whose name *and* process id hold the host's lease now, and only
//!   forward (`cursor`; a kind whose cursors do not compare relies on the lease
//!   alone); metric labels only for configured sources and lease-holding workers
//!   (at most 256 names; anything else is `other`). The sentiment verdict stays the
//!   worker's: the hub does not re-classify a post its own model agrees matches, so a
//!   worker can still make a real mention of a brand look negative or not.
//! * *The thread watch fetches only hosts a configured source's threads are on*
//!   (`watch::Plan::fetches`): a stored post id names its own host
//!   (`mastodon:HOST:ID`), and a forged result could store any id.
//! * *Leases name a process, not just a worker* (`lease::holder`): two workers given
//!   the same name never both hold a host.
//!
//! What a worker's credentials still allow: inventing a post whose text does
//! mention a brand, with any verdict (the hub cannot fetch every post again to check
//! that it exists: such a post is stored and may alert); publishing results for a
//! host it does not hold (its posts are still re-matched and stored; its cursor is
//! not committed),
//! deleting or taking leases and heartbeats (so it can slow the cluster down, or poll
//! hosts itself), and reading the config (brands, source names, the *names* of the
//! secrets, never their values).

pub mod config;
pub mod cursor;
pub mod lease;
pub mod nats;
pub mod wire;

pub use config::ClusterConfig;
pub use nats::{Cluster, ClusterError, CONFIG_KEY};
