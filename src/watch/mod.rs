//! The watch on negative mentions' public threads (issue #18: "did anyone answer?").
//!
//! The watcher itself (its schedule, its persisted state, the store's fields and its
//! settings) lives in this module, with [`access`]: what each thread request carries
//! of its `[[source]]` entry (key, token, user agent); [`threads`] is its source layer: which URL shows a
//! mention's thread, how to read the replies out of the response, and whether one of
//! them is the brand's answer. `threads` is pure: it never fetches, stores or logs.

pub mod access;
pub mod config;
pub mod run;
pub mod threads;

pub use config::{brand_watches, BrandWatch};
pub use run::{round, Checked, Outcome, Plan, PlanError};
