//! Server-drawn SVG charts for the dashboard: stacked bars, lines and horizontal
//! bars, sized by a viewBox so they scale to a phone. No script, no library.
//!
//! Every label that could come from a config or a post is escaped here
//! ([`esc`]): the result is marked safe for the template.

use std::fmt::Write;

/// Colours of the sentiment labels (others are grey).
pub fn colour(label: &str) -> &'static str {
    match label {
        "negative" => "#b3261e",
        "neutral" => "#9aa4b1",
        "positive" => "#1e7d32",
        _ => "#cfd6de",
    }
}

pub fn esc(s: &str) -> String {
    html_escape::encode_text(s)
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// One stacked bar: its x label and (label, value) segments, bottom first.
pub struct Stack {
    pub x: String,
    pub parts: Vec<(String, f64)>,
}

/// Stacked bars, one per `stacks` entry; `title` for screen readers.
pub fn stacked_bars(title: &str, stacks: &[Stack]) -> String {
    let (w, h, pad) = (640.0, 160.0, 24.0);
    let max = stacks
        .iter()
        .map(|s| s.parts.iter().map(|(_, v)| v).sum::<f64>())
        .fold(0.0, f64::max)
        .max(1.0);
    let n = stacks.len().max(1) as f64;
    let bw = (w / n).max(1.0);
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-label="{}"><title>{}</title>"#,
        h + pad,
        esc(title),
        esc(title)
    );
    for (i, s) in stacks.iter().enumerate() {
        let x = i as f64 * bw;
        let mut y = h;
        let total: f64 = s.parts.iter().map(|(_, v)| v).sum();
        for (label, v) in &s.parts {
            if *v <= 0.0 {
                continue;
            }
            let bh = v / max * (h - 4.0);
            y -= bh;
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {} {}</title></rect>"#,
                x + bw * 0.1,
                y,
                bw * 0.8,
                bh,
                colour(label),
                esc(&s.x),
                v,
                esc(label)
            );
        }
        if total > 0.0 && bw >= 18.0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="n">{}</text>"#,
                x + bw / 2.0,
                (y - 2.0).max(10.0),
                total
            );
        }
        // a date label every few bars
        let every = (n / 8.0).ceil().max(1.0) as usize;
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" class="x">{}</text>"#,
                x + bw / 2.0,
                h + 16.0,
                esc(&s.x)
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Lines of `(name, points in 0..=1)` over the same x positions, as percentages.
pub fn share_lines(title: &str, xs: &[String], lines: &[(String, Vec<Option<f64>>)]) -> String {
    let (w, h, pad) = (640.0, 140.0, 24.0);
    let n = xs.len().max(2) as f64;
    // inset, so that the first and last date labels fit
    let (left, right) = (24.0, 24.0);
    let step = (w - left - right) / (n - 1.0);
    let palette = ["#b3261e", "#1f5fbf", "#7b3fb3", "#c77700", "#1e7d32"];
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {}" role="img" aria-label="{}"><title>{}</title>"#,
        h + pad,
        esc(title),
        esc(title)
    );
    for pct in [0.0, 0.5, 1.0] {
        let y = h - pct * (h - 10.0);
        let _ = write!(
            out,
            r#"<line x1="0" x2="{w}" y1="{y:.1}" y2="{y:.1}" class="grid"/><text x="2" y="{:.1}" class="y">{:.0}%</text>"#,
            y - 2.0,
            pct * 100.0
        );
    }
    for (k, (name, pts)) in lines.iter().enumerate() {
        let colour = palette[k % palette.len()];
        let path: Vec<String> = pts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.map(|p| format!("{:.1},{:.1}", left + i as f64 * step, h - p * (h - 10.0)))
            })
            .collect();
        // a dot per day, so that a single day still shows
        for pt in &path {
            if let Some((x, y)) = pt.split_once(',') {
                let _ = write!(out, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
            }
        }
        let _ = write!(
            out,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"><title>{}</title></polyline><text x="{:.1}" y="{:.1}" fill="{colour}" class="legend">{}</text>"#,
            path.join(" "),
            esc(name),
            w - 4.0,
            14.0 + 14.0 * k as f64,
            esc(name)
        );
    }
    let every = (n / 6.0).ceil().max(1.0) as usize;
    for (i, x) in xs.iter().enumerate().step_by(every) {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="x">{}</text>"#,
            left + i as f64 * step,
            h + 16.0,
            esc(x)
        );
    }
    out.push_str("</svg>");
    out
}

/// Horizontal bars of `(label, value, shown)`, the longest filling the width.
pub fn hbars(title: &str, rows: &[(String, f64, String)], colour: &str) -> String {
    let (w, row) = (640.0, 22.0);
    let label_w = 200.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let h = row * rows.len().max(1) as f64;
    let mut out = format!(
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{}"><title>{}</title>"#,
        esc(title),
        esc(title)
    );
    for (i, (label, v, shown)) in rows.iter().enumerate() {
        let y = i as f64 * row;
        let bw = v / max * (w - label_w - 90.0);
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" class="hl">{}</text><rect x="{label_w}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/><text x="{:.1}" y="{:.1}" class="hv">{}</text>"#,
            label_w - 6.0,
            y + 15.0,
            esc(label),
            y + 4.0,
            bw.max(1.0),
            row - 8.0,
            label_w + bw + 6.0,
            y + 15.0,
            esc(shown)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_bars_scale_to_the_largest() {
        let s = stacked_bars(
            "<b>x</b>",
            &[
                Stack {
                    x: "12-01".into(),
                    parts: vec![("negative".into(), 2.0)],
                },
                Stack {
                    x: "12-02\"><script>".into(),
                    parts: vec![("negative".into(), 4.0)],
                },
            ],
        );
        assert!(!s.contains("<script>") && !s.contains("<b>"), "{s}");
        assert!(
            s.contains(r#"height="156.0""#),
            "the largest bar fills the height: {s}"
        );
        let h = hbars("t", &[("Acme & co".into(), 3.0, "3 h".into())], "#000");
        assert!(h.contains("Acme &amp; co"), "{h}");
    }
}
