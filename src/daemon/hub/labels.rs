//! The names a hub puts in its metrics' labels and logs come from messages anyone
//! with the workers' credentials can write: only plain, bounded ones are used.

/// The label of anything the hub does not know by name.
pub(super) const OTHER: &str = "other";

/// The most worker names the hub's metrics ever carry; more are `other`.
pub(super) const MAX_WORKER_LABELS: usize = 256;

/// A worker name as `[cluster] worker_name` allows it (and not too long for a label).
pub(super) fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A worker name for a log line: a plain one as it is, anything else not at all.
pub(super) fn label(s: &str) -> &str {
    if plain_name(s) {
        s
    } else {
        "<not a plain name>"
    }
}
