//! Text that goes into an email: header-safe one-liners, and post text cut into
//! highlighted and plain segments and quoted lines.
//!
//! Plain string functions: no templates, no escaping (the HTML templates escape),
//! and they never index a string off a character boundary.

use serde::Serialize;

use crate::post::Post;

/// Makes text safe for a header: control characters (CR, LF, tab...) become spaces,
/// runs of whitespace collapse, and it is cut to `max` characters.
pub fn header_safe(text: &str, max: usize) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>();
        out.push('…');
    }
    out
}

/// A piece of quoted text, highlighted or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub text: String,
    pub hl: bool,
}

/// Splits `text` into highlighted and plain segments from byte spans; spans out of
/// range or not on character boundaries are ignored, overlapping ones merged.
pub fn segments(text: &str, spans: &[(usize, usize)]) -> Vec<Segment> {
    let mut spans: Vec<(usize, usize)> = spans
        .iter()
        .copied()
        .filter(|&(s, e)| {
            s < e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e)
        })
        .collect();
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = Vec::new();
    let mut pos = 0;
    for (s, e) in merged {
        if s > pos {
            out.push(Segment {
                text: text[pos..s].to_string(),
                hl: false,
            });
        }
        out.push(Segment {
            text: text[s..e].to_string(),
            hl: true,
        });
        pos = e;
    }
    if pos < text.len() {
        out.push(Segment {
            text: text[pos..].to_string(),
            hl: false,
        });
    }
    out
}

pub(crate) fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Splits segments into lines at newlines (for quoting).
pub(super) fn lines(segs: Vec<Segment>) -> Vec<Vec<Segment>> {
    let mut out: Vec<Vec<Segment>> = vec![Vec::new()];
    for s in segs {
        let mut parts = s.text.split('\n').peekable();
        while let Some(p) = parts.next() {
            if !p.is_empty() {
                if let Some(line) = out.last_mut() {
                    line.push(Segment {
                        text: p.trim_end_matches('\r').to_string(),
                        hl: s.hl,
                    });
                }
            }
            if parts.peek().is_some() {
                out.push(Vec::new());
            }
        }
    }
    out
}

/// What a post is about in one line's worth: its title, or its text when it has none.
pub(super) fn title_or_text(p: &Post) -> String {
    p.title
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| p.text.clone())
}
