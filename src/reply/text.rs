//! A reply's text: a saved reply's placeholders filled in for a mention, and each
//! network's length limit (Mastodon and Stack Exchange count characters, Bluesky
//! graphemes: "👍🏽" and "é" written as e + U+0301 are one each).

use super::bluesky::graphemes;
use super::network::Limit;
use crate::store::StoredMention;

/// The length of `text` as `limit` counts it.
pub fn length(text: &str, limit: Limit) -> usize {
    match limit.unit {
        "graphemes" => graphemes(text),
        _ => text.chars().count(),
    }
}

/// `Err(why)` when `text` is empty, shorter than the network's minimum or longer
/// than its maximum.
pub fn check(text: &str, limit: Limit) -> Result<(), String> {
    let n = length(text, limit);
    if text.trim().is_empty() {
        return Err("the reply is empty".into());
    }
    if n > limit.max {
        return Err(format!(
            "the reply has {n} {}: at most {} here",
            limit.unit, limit.max
        ));
    }
    if n < limit.min {
        return Err(format!(
            "the reply has {n} {}: at least {} here",
            limit.unit, limit.min
        ));
    }
    Ok(())
}

/// A template's text for mention `m`: `{author}` is the post's author (else
/// "there"), `{brand}` the mention's first brand.
pub fn fill(template: &str, m: &StoredMention) -> String {
    let p = &m.mention.post;
    let author = p
        .author
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .unwrap_or("there");
    let brand = m
        .mention
        .brands
        .first()
        .map(|b| b.brand.as_str())
        .unwrap_or("");
    template
        .replace("{author}", author)
        .replace("{brand}", brand)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLUESKY: Limit = Limit {
        unit: "graphemes",
        max: 300,
        min: 1,
    };

    #[test]
    fn graphemes_count_emoji_and_accents_as_one() {
        assert_eq!(graphemes("👍🏽"), 1);
        assert_eq!(graphemes("e\u{301}"), 1);
        assert_eq!(graphemes("👨‍👩‍👧 ok"), 4);
        let long = "é".repeat(300);
        assert!(check(&long, BLUESKY).is_ok());
        let decomposed = "e\u{301}".repeat(300);
        assert_eq!(decomposed.chars().count(), 600);
        assert!(check(&decomposed, BLUESKY).is_ok(), "300 graphemes fit");
        let over = format!("{decomposed}👍🏽");
        let e = check(&over, BLUESKY).unwrap_err();
        assert!(e.contains("301 graphemes"), "{e}");
        let se = Limit {
            unit: "characters",
            max: 600,
            min: 15,
        };
        assert!(check("too short", se).unwrap_err().contains("at least 15"));
        assert!(check("   ", se).unwrap_err().contains("empty"));
    }
}
