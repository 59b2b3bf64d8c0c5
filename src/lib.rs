//! overhear: hears what the public internet says about a brand.
//!
//! Data flows one way, and so do the modules:
//!
//! ```text
//! sources ─Post─▶ matcher ─▶ store (dedup) ─▶ classifier ─Mention─▶ store ─▶ alerts ─▶ outbox ─▶ SMTP
//! ```
//!
//! Stages never call each other; [`daemon`] wires them together. Each component's
//! settings type lives beside it and [`config`] only assembles them.

pub mod alerts;
pub mod classifier;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod matcher;
pub mod post;
pub mod reply;
pub mod search;
pub mod sources;
pub mod store;
pub mod util;
pub mod watch;
pub mod web;
