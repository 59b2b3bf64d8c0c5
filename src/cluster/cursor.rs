//! Whether a cursor a worker sent moves a source *forward* from the one the hub
//! committed: the hub refuses one that moves back (a forged or stale cursor would
//! make the next owner poll from the past, or, in its seen-set, skip posts).
//!
//! A cursor is the source's state as JSON (`sources::polled`). The fields that only
//! ever grow are compared where both cursors have them: the newest timestamp per
//! query (`newest`, Hacker News, Reddit, Stack Exchange), Mastodon's `min_id` per tag
//! (numeric ids), Bluesky's Jetstream `cursor` and `search_since` per term. A kind
//! whose state has none of them (RSS, Lobsters: validators and a seen-set) is not
//! comparable: the hub then relies on who sent it (the lease holder) alone.

use std::cmp::Ordering;

use serde_json::Value;

/// `Less` when `new` moves any ordered field of `old` back, `Greater`/`Equal` when
/// every ordered field both have is at least as far, `None` when they share none
/// (or either is not JSON).
pub fn order(old: &[u8], new: &[u8]) -> Option<Ordering> {
    let old: Value = serde_json::from_slice(old).ok()?;
    let new: Value = serde_json::from_slice(new).ok()?;
    let mut seen = false;
    let mut result = Ordering::Equal;
    let mut note = |o: Option<Ordering>| {
        if let Some(o) = o {
            seen = true;
            result = match (result, o) {
                (Ordering::Less, _) | (_, Ordering::Less) => Ordering::Less,
                (Ordering::Greater, _) | (_, Ordering::Greater) => Ordering::Greater,
                _ => Ordering::Equal,
            };
        }
    };
    note(number(old.get("cursor"), new.get("cursor")));
    for field in ["newest", "min_id", "search_since"] {
        let (Some(Value::Object(a)), Some(Value::Object(b))) = (old.get(field), new.get(field))
        else {
            continue;
        };
        for (key, a) in a {
            note(number(Some(a), b.get(key)));
        }
    }
    seen.then_some(result)
}

/// Where the `new` value of one ordered field stands against the `old`: integers,
/// numeric strings (ids, compared as numbers) or other strings (RFC 3339 times of
/// one format, compared as text).
fn number(old: Option<&Value>, new: Option<&Value>) -> Option<Ordering> {
    match (new?, old?) {
        (Value::Number(a), Value::Number(b)) => Some(a.as_i64()?.cmp(&b.as_i64()?)),
        (Value::String(a), Value::String(b)) => match (a.parse::<u128>(), b.parse::<u128>()) {
            (Ok(a), Ok(b)) => Some(a.cmp(&b)),
            (Err(_), Err(_)) => Some(a.as_str().cmp(b.as_str())),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_fields_decide_and_others_are_not_comparable() {
        let a = br#"{"newest":{"acme":100,"b":5},"seen":{}}"#;
        let fwd = br#"{"newest":{"acme":120,"b":5,"new":1},"seen":{}}"#;
        let back = br#"{"newest":{"acme":90,"b":9},"seen":{}}"#;
        assert_eq!(order(a, fwd), Some(Ordering::Greater));
        assert_eq!(order(a, a), Some(Ordering::Equal));
        assert_eq!(order(a, back), Some(Ordering::Less));
        // Mastodon ids are numbers in strings: "99" < "100"
        let m1 = br#"{"min_id":{"acme":"99"}}"#;
        let m2 = br#"{"min_id":{"acme":"100"}}"#;
        assert_eq!(order(m1, m2), Some(Ordering::Greater));
        assert_eq!(order(m2, m1), Some(Ordering::Less));
        // Bluesky's Jetstream cursor
        assert_eq!(
            order(br#"{"cursor":20}"#, br#"{"cursor":10}"#),
            Some(Ordering::Less)
        );
        // RSS: validators and a seen-set only
        let r = br#"{"validators":{},"seen":{"ids":["x"]}}"#;
        assert_eq!(order(r, br#"{"validators":{},"seen":{}}"#), None);
        assert_eq!(order(b"not json", a), None);
    }
}
