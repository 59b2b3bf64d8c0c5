//! The alert outbox: alerts are written here before any attempt to send them.
