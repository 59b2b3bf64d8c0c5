//! Alerts: rules decide which mentions produce email; each alert is queued in the
//! store's outbox before a sender delivers it through lettre.

mod config;

pub use config::{EmailConfig, TransportKind};
