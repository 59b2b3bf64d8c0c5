//! Text folding for matching: NFKC/NFKD, case folding, accent stripping, whitespace
//! collapsing and de-obfuscation of `acme[.]com`, with a map from every byte of the
//! folded text back to the original text, so matches can be reported as spans of
//! what the user wrote.

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::UnicodeNormalization;

/// How much to fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// NFKD, drop combining marks (accents), lowercase: what matching runs on.
    Loose,
    /// NFKC only, case and accents kept: what case-sensitive terms compare.
    Exact,
}

/// A folded copy of a text, with the way back to the original.
#[derive(Debug, Clone)]
pub(crate) struct Folded {
    pub text: String,
    /// `None` while every byte of `text` is the same byte of the original.
    map: Option<Map>,
    orig_len: usize,
}

#[derive(Debug, Clone, Default)]
struct Map {
    /// For each byte of the folded text, the original span it came from.
    starts: Vec<u32>,
    ends: Vec<u32>,
}

impl Folded {
    pub fn new(orig: &str, mode: Mode) -> Folded {
        let mut f = Folder {
            orig,
            out: String::with_capacity(orig.len()),
            map: None,
            last_space: true,
            mode,
        };
        f.run();
        Folded {
            text: f.out,
            map: f.map,
            orig_len: orig.len(),
        }
    }

    /// The span of the original text that the folded bytes `start..end` came from.
    /// Always on char boundaries of the original.
    pub fn orig_span(&self, start: usize, end: usize) -> (usize, usize) {
        if end <= start {
            return (start.min(self.orig_len), start.min(self.orig_len));
        }
        match &self.map {
            None => (start.min(self.orig_len), end.min(self.orig_len)),
            Some(m) => {
                let s = m.starts.get(start).map_or(self.orig_len, |&v| v as usize);
                let e = m.ends.get(end - 1).map_or(self.orig_len, |&v| v as usize);
                (s, e.max(s))
            }
        }
    }
}

/// The loose fold of a query literal.
pub(crate) fn loose(s: &str) -> String {
    Folded::new(s, Mode::Loose).text
}

/// The exact (NFKC, case kept) fold of a string.
pub(crate) fn exact(s: &str) -> String {
    Folded::new(s, Mode::Exact).text
}

struct Folder<'a> {
    orig: &'a str,
    out: String,
    map: Option<Map>,
    last_space: bool,
    mode: Mode,
}

impl Folder<'_> {
    fn run(&mut self) {
        let orig = self.orig;
        let bytes = orig.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let Some(c) = orig[i..].chars().next() else {
                break;
            };
            let mut j = i + c.len_utf8();
            // a segment: one starter and the combining marks that follow it
            while j < bytes.len() && bytes[j] >= 0x80 {
                match orig[j..].chars().next() {
                    Some(d) if canonical_combining_class(d) != 0 => j += d.len_utf8(),
                    _ => break,
                }
            }
            if let Some(len) = self.obfuscated_dot(i) {
                j = i + len;
                self.last_space = false;
                self.push_mapped(".", i, j);
                i = j;
                continue;
            }
            let before = self.out.len();
            if j == i + 1 && c.is_ascii() {
                if c.is_ascii_whitespace() {
                    self.space(i, j);
                } else {
                    self.last_space = false;
                    let o = match self.mode {
                        Mode::Loose => c.to_ascii_lowercase(),
                        Mode::Exact => c,
                    };
                    self.out.push(o);
                    self.record(before, i, j);
                }
            } else {
                self.segment(i, j);
            }
            i = j;
        }
    }

    /// `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)` between two letters or digits: the
    /// number of bytes to replace by `.`.
    fn obfuscated_dot(&self, i: usize) -> Option<usize> {
        let b = self.orig.as_bytes();
        if !matches!(b.get(i), Some(b'[' | b'(' | b'{')) {
            return None;
        }
        let prev_ok = self
            .out
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric());
        if !prev_ok {
            return None;
        }
        let rest = &b[i..];
        let len = if rest.len() >= 3 && rest[1] == b'.' && closes(rest[0], rest[2]) {
            3
        } else if rest.len() >= 5
            && rest[1..4].eq_ignore_ascii_case(b"dot")
            && closes(rest[0], rest[4])
        {
            5
        } else {
            return None;
        };
        let next_ok = self.orig[i + len..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric());
        next_ok.then_some(len)
    }

    fn space(&mut self, i: usize, j: usize) {
        if self.last_space {
            // collapse: the previous space now also covers this one (leading
            // whitespace is simply dropped)
            if !self.out.is_empty() {
                self.extend_prev(j);
            }
            return;
        }
        self.last_space = true;
        let before = self.out.len();
        self.out.push(' ');
        self.record(before, i, j);
    }

    fn extend_prev(&mut self, j: usize) {
        self.materialize();
        if let Some(e) = self.map.as_mut().and_then(|m| m.ends.last_mut()) {
            *e = j as u32;
        }
    }

    fn segment(&mut self, i: usize, j: usize) {
        let seg = &self.orig[i..j];
        let mut chars: Vec<char> = Vec::with_capacity(4);
        match self.mode {
            Mode::Loose => {
                for d in seg.nfkd() {
                    if canonical_combining_class(d) != 0 {
                        continue;
                    }
                    for l in d.to_lowercase() {
                        if canonical_combining_class(l) != 0 {
                            continue;
                        }
                        match l {
                            'ß' => chars.extend(['s', 's']),
                            'ς' => chars.push('σ'),
                            '\u{2018}' | '\u{2019}' | '\u{02bc}' => chars.push('\''),
                            _ => chars.push(l),
                        }
                    }
                }
            }
            Mode::Exact => {
                for d in seg.nfkc() {
                    match d {
                        '\u{2018}' | '\u{2019}' | '\u{02bc}' => chars.push('\''),
                        _ => chars.push(d),
                    }
                }
            }
        }
        let mut local = String::new();
        let mut extend = false;
        for c in chars {
            if c.is_whitespace() {
                if self.last_space {
                    extend |= local.is_empty() && !self.out.is_empty();
                    continue;
                }
                self.last_space = true;
                local.push(' ');
            } else {
                self.last_space = false;
                local.push(c);
            }
        }
        if extend {
            self.extend_prev(j);
        }
        if local.is_empty() {
            // folded to nothing: a lone combining mark, collapsed whitespace
            return;
        }
        let before = self.out.len();
        if self.map.is_none() && before == i && local == seg {
            self.out.push_str(&local);
            return;
        }
        self.push_mapped(&local, i, j);
    }

    /// Records that the single folded byte at `before` came from `i..j`.
    fn record(&mut self, before: usize, i: usize, j: usize) {
        if self.map.is_none() {
            if before == i && j == i + 1 {
                return;
            }
            self.materialize_upto(before);
        }
        if let Some(m) = self.map.as_mut() {
            for _ in before..self.out.len() {
                m.starts.push(i as u32);
                m.ends.push(j as u32);
            }
        }
    }

    fn push_mapped(&mut self, s: &str, i: usize, j: usize) {
        let before = self.out.len();
        self.out.push_str(s);
        self.materialize_upto(before);
        if let Some(m) = self.map.as_mut() {
            for _ in before..self.out.len() {
                m.starts.push(i as u32);
                m.ends.push(j as u32);
            }
        }
    }

    fn materialize(&mut self) {
        let n = self.out.len();
        self.materialize_upto(n);
    }

    /// Switches from identity to an explicit map, covering bytes `..n` as identity.
    fn materialize_upto(&mut self, n: usize) {
        if self.map.is_none() {
            let mut m = Map {
                starts: Vec::with_capacity(self.orig.len()),
                ends: Vec::with_capacity(self.orig.len()),
            };
            for k in 0..n {
                m.starts.push(k as u32);
                m.ends.push(k as u32 + 1);
            }
            self.map = Some(m);
        }
    }
}

fn closes(open: u8, close: u8) -> bool {
    matches!((open, close), (b'[', b']') | (b'(', b')') | (b'{', b'}'))
}

/// A letter, digit or underscore.
pub(crate) fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Scripts written without spaces between words: every character is a word edge.
pub(crate) fn no_space_script(c: char) -> bool {
    matches!(c as u32,
        0x0E00..=0x0EFF      // Thai, Lao
        | 0x1000..=0x109F    // Myanmar
        | 0x1780..=0x17FF    // Khmer
        | 0x3040..=0x30FF    // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK
        | 0xF900..=0xFAFF    // CJK compatibility
        | 0x20000..=0x2FA1F) // CJK extensions
}

/// Whether `a` directly followed by `b` is inside one word.
pub(crate) fn joins(a: char, b: char) -> bool {
    is_word(a) && is_word(b) && !no_space_script(a) && !no_space_script(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(orig: &str, folded: &str) {
        let f = Folded::new(orig, Mode::Loose);
        assert_eq!(f.text, folded, "folding {orig:?}");
    }

    #[test]
    fn folds() {
        let table = [
            ("ACME", "acme"),
            ("Café", "cafe"),
            ("cafe\u{301}", "cafe"),
            ("ＡＣＭＥ", "acme"),
            ("Straße", "strasse"),
            ("a  \t\n b", "a b"),
            ("  lead", "lead"),
            ("acme[.]com", "acme.com"),
            ("acme(dot)com", "acme.com"),
            ("acme [.] com", "acme [.] com"),
            ("(.)", "(.)"),
            ("it’s", "it's"),
            ("ﬁne", "fine"),
            ("\u{301}x", "x"),
        ];
        for (o, f) in table {
            check(o, f);
        }
    }

    #[test]
    fn exact_keeps_case_and_accents() {
        assert_eq!(exact("Cafe\u{301}"), "Café");
        assert_eq!(exact("ＡＣＭＥ"), "ACME");
    }

    #[test]
    fn spans_map_back() {
        let orig = "Hi Ｃａｆé and cafe\u{301}  ACME[.]com";
        let f = Folded::new(orig, Mode::Loose);
        for (needle, want) in [
            ("cafe", "Ｃａｆé"),
            ("acme.com", "ACME[.]com"),
            ("and cafe", "and cafe\u{301}"),
        ] {
            let s = f.text.find(needle).unwrap();
            let (os, oe) = f.orig_span(s, s + needle.len());
            assert_eq!(&orig[os..oe], want);
        }
        let s = f.text.rfind("cafe").unwrap();
        let (os, oe) = f.orig_span(s, s + 4);
        assert_eq!(&orig[os..oe], "cafe\u{301}");
    }

    #[test]
    fn identity_for_plain_ascii() {
        let f = Folded::new("Hello World", Mode::Loose);
        assert!(f.map.is_none());
        assert_eq!(f.orig_span(6, 11), (6, 11));
    }
}
