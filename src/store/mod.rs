//! The sled store: mentions (with indexes), source state, the alert outbox.
