//! `docs/configuration.md` and the config structs say the same thing.
//!
//! Every config table rejects unknown keys (`deny_unknown_fields`), and serde then
//! names every key it would have accepted: `unknown field `__probe__`, expected one
//! of `a`, `b`, ...`. So the test asks the real parser, table by table, starting
//! from the top of the file: each key it accepts that is itself a table
//! (`[alerts.quiet_hours]`), an array of tables (`[[alerts.route]]`), a table of
//! tables (`[alerts.brand.NAME]`) or an array of tagged tables (`[[source]]`, one
//! kind per `kind = "..."`) is probed in turn. What it finds must be exactly what the
//! page documents under its `### [table]` headings, in the first column of each
//! table. A documented default written as one TOML value (`` `"2m"` ``) must parse
//! there, and where the table can be parsed without other keys, equal the code's
//! default.

use std::collections::{BTreeMap, BTreeSet};

use overhear::config::Config;

const DOC: &str = include_str!("../docs/configuration.md");
const DOC_PATH: &str = "docs/configuration.md";
const PROBE: &str = "__probe__";

/// A config table: how its header is written, and whether it is the tagged kind of
/// an array (`[[source]] kind = "rss"`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Table {
    /// `""` for the top of the file, else `[daemon]`, `[[alerts.route]]`,
    /// `[alerts.brand.NAME]`.
    header: String,
    /// `(tag, variant)` for one kind of a tagged array of tables.
    kind: Option<(String, String)>,
}

impl Table {
    fn root() -> Table {
        Table {
            header: String::new(),
            kind: None,
        }
    }

    /// The heading that documents it: `[daemon]`, `[[source]] kind = "rss"`.
    fn heading(&self) -> String {
        match &self.kind {
            Some((tag, v)) => format!("{} {tag} = \"{v}\"", self.header),
            None => self.header.clone(),
        }
    }

    /// The dotted path of its header: `alerts.brand.NAME`.
    fn path(&self) -> &str {
        self.header.trim_matches(|c| c == '[' || c == ']')
    }

    fn is_array(&self) -> bool {
        self.header.starts_with("[[")
    }

    /// TOML that opens this table, ready for its keys.
    fn open(&self) -> String {
        let mut s = String::new();
        if !self.header.is_empty() {
            s.push_str(&self.header);
            s.push('\n');
        }
        if let Some((tag, v)) = &self.kind {
            s.push_str(&format!("{tag} = \"{v}\"\n"));
        }
        s
    }

    /// The header of `key` below this table written as `[{}]`-style `shape`.
    fn child(&self, shape: Shape, key: &str) -> Table {
        let path = if self.path().is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path())
        };
        let header = match shape {
            Shape::Table => format!("[{path}]"),
            Shape::Array | Shape::Tagged(_) => format!("[[{path}]]"),
            Shape::Map => format!("[{path}.NAME]"),
        };
        Table { header, kind: None }
    }

    /// TOML for a child table of `key`, written below this one (so that an array's
    /// element holds it).
    fn open_child(&self, shape: Shape, key: &str) -> String {
        let child = self.child(shape, key);
        let own = if self.is_array() || self.kind.is_some() {
            self.open()
        } else {
            String::new()
        };
        format!("{own}{}\n", child.header)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Table,
    Array,
    Map,
    /// An array of tables told apart by this key (`kind`).
    Tagged(String),
}

fn parse(text: &str) -> Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| e.message().trim().to_string())
}

/// The names between backticks in `text`.
fn quoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys serde expects where `text` put `__probe__ = 1`, if the parser named them.
fn expected_keys(text: &str) -> Option<BTreeSet<String>> {
    let e = parse(text).err()?;
    let rest = e.strip_prefix(&format!("unknown field `{PROBE}`"))?;
    Some(quoted(rest).into_iter().collect())
}

/// The kinds serde expects where `text` put `tag = "__probe__"`.
fn expected_variants(text: &str) -> Option<BTreeSet<String>> {
    let e = parse(text).err()?;
    let rest = e.strip_prefix(&format!("unknown variant `{PROBE}`"))?;
    Some(quoted(rest).into_iter().collect())
}

/// Every table the config accepts, with its keys (for a tagged array: the tag).
fn config_tables() -> BTreeMap<Table, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![Table::root()];
    while let Some(t) = todo.pop() {
        let keys = expected_keys(&format!("{}{PROBE} = 1\n", t.open())).unwrap_or_else(|| {
            panic!(
                "{}: the config parser names no keys for this table: does its struct still \
                 have #[serde(deny_unknown_fields)]? ({:?})",
                t.heading(),
                parse(&format!("{}{PROBE} = 1\n", t.open()))
            )
        });
        for key in &keys {
            let shapes = [Shape::Table, Shape::Array, Shape::Map];
            let mut found = None;
            for shape in shapes {
                let text = format!("{}{PROBE} = 1\n", t.open_child(shape.clone(), key));
                if expected_keys(&text).is_some() {
                    found = Some(shape);
                    break;
                }
                // an internally tagged enum asks for its tag first
                if let (Shape::Array, Err(e)) = (&shape, parse(&text)) {
                    if let Some(tag) = e.strip_prefix("missing field `") {
                        let tag = tag.split('`').next().unwrap_or_default().to_string();
                        found = Some(Shape::Tagged(tag));
                        break;
                    }
                }
            }
            let Some(shape) = found else { continue };
            let child = t.child(shape.clone(), key);
            if let Shape::Tagged(tag) = &shape {
                let text = format!("{}{tag} = \"{PROBE}\"\n", t.open_child(shape.clone(), key));
                let kinds = expected_variants(&text).unwrap_or_else(|| {
                    panic!("{}: no kinds named: {:?}", child.header, parse(&text))
                });
                out.insert(child.clone(), BTreeSet::from([tag.clone()]));
                for v in kinds {
                    todo.push(Table {
                        header: child.header.clone(),
                        kind: Some((tag.clone(), v)),
                    });
                }
            } else {
                todo.push(child);
            }
        }
        out.insert(t, keys);
    }
    out
}

/// One documented key: its name and its default cell.
#[derive(Debug)]
struct DocKey {
    key: String,
    default: String,
    line: usize,
}

/// The `### [table]` headings of the page, each with the keys of the table below it.
fn documented_tables() -> BTreeMap<String, (usize, Vec<DocKey>)> {
    let mut out: BTreeMap<String, (usize, Vec<DocKey>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut header_row = false;
    for (i, line) in DOC.lines().enumerate() {
        let line_no = i + 1;
        if let Some(h) = line.strip_prefix("### ") {
            let h = h.trim();
            assert!(
                h.starts_with('['),
                "{DOC_PATH}:{line_no}: a ### heading names a config table, like `### [alerts]`"
            );
            assert!(
                out.insert(h.to_string(), (line_no, Vec::new())).is_none(),
                "{DOC_PATH}:{line_no}: {h} is documented twice"
            );
            current = Some(h.to_string());
            header_row = true;
            continue;
        }
        if line.starts_with("## ") || line.starts_with("# ") {
            current = None;
            continue;
        }
        let Some(table) = &current else { continue };
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if header_row {
            assert_eq!(
                cells.first().copied(),
                Some("key"),
                "{DOC_PATH}:{line_no}: the table under {table} starts | key | type | default | meaning |"
            );
            header_row = false;
            continue;
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| ch == '-' || ch == ':'))
        {
            continue;
        }
        let key = cells[0];
        assert!(
            key.starts_with('`') && key.ends_with('`') && key.len() > 2,
            "{DOC_PATH}:{line_no}: the first cell names a key in backticks, found {key:?}"
        );
        assert!(
            cells.len() >= 4,
            "{DOC_PATH}:{line_no}: a key's row has | key | type | default | meaning |"
        );
        out.get_mut(table).expect("current table").1.push(DocKey {
            key: key.trim_matches('`').to_string(),
            default: cells[2].to_string(),
            line: line_no,
        });
    }
    out
}

#[test]
fn every_config_key_is_documented_and_every_documented_key_is_accepted() {
    let code = config_tables();
    let docs = documented_tables();
    let mut wrong = Vec::new();

    // the top of the file: its keys are the tables themselves
    let root = &code[&Table::root()];
    for key in root {
        let documented = docs
            .keys()
            .any(|h| h.trim_start_matches('[').split([']', '.', ' ']).next() == Some(key.as_str()));
        if !documented {
            wrong.push(format!(
                "the config has a top-level `{key}` that no ### heading of {DOC_PATH} documents"
            ));
        }
    }
    assert!(
        root.contains("daemon") && root.contains("source"),
        "the probe found the top-level tables: {root:?}"
    );

    // the keys common to every kind of a tagged array (`[[source]]`'s kind, name...)
    let tagged: BTreeMap<String, String> = code
        .keys()
        .filter_map(|t| Some((t.header.clone(), t.kind.clone()?.0)))
        .collect();

    for (table, keys) in &code {
        if table.header.is_empty() {
            continue;
        }
        let heading = table.heading();
        let Some((at, documented)) = docs.get(&heading) else {
            wrong.push(format!(
                "{DOC_PATH} has no `### {heading}` for a table the config accepts (keys: {})",
                keys.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        let mut doc_keys: BTreeSet<String> = documented.iter().map(|k| k.key.clone()).collect();
        let mut code_keys = keys.clone();
        if let Some((tag, _)) = &table.kind {
            // a kind's own heading lists its own keys; the common ones are under the
            // array's heading, where the tag is too
            let common: BTreeSet<String> = docs
                .get(&table.header)
                .map(|(_, ks)| ks.iter().map(|k| k.key.clone()).collect())
                .unwrap_or_default();
            for c in common.iter().filter(|c| *c != tag) {
                if !code_keys.remove(c) {
                    wrong.push(format!(
                        "{DOC_PATH}: `{c}` is documented under {} as common to every kind, \
                         but {heading} rejects it",
                        table.header
                    ));
                }
            }
        } else if let Some(tag) = tagged.get(&table.header) {
            // the array's own heading: the tag, and what every kind has in common
            // (checked against each kind above)
            if !doc_keys.contains(tag) {
                wrong.push(format!(
                    "{DOC_PATH}:{at}: {heading} does not document `{tag}`"
                ));
            }
            doc_keys.clear();
            code_keys.clear();
        }
        for k in code_keys.difference(&doc_keys) {
            wrong.push(format!(
                "{DOC_PATH}:{at}: {heading} does not document `{k}`, which the config accepts"
            ));
        }
        for k in doc_keys.difference(&code_keys) {
            let line = documented
                .iter()
                .find(|d| &d.key == k)
                .map_or(*at, |d| d.line);
            wrong.push(format!(
                "{DOC_PATH}:{line}: {heading} documents `{k}`, which the config rejects"
            ));
        }
    }
    for (heading, (at, _)) in &docs {
        if !code.keys().any(|t| &t.heading() == heading) {
            wrong.push(format!(
                "{DOC_PATH}:{at}: `### {heading}` documents a table the config does not have"
            ));
        }
    }
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
}

#[test]
fn documented_defaults_parse_and_agree_with_the_code() {
    let docs = documented_tables();
    let version = env!("CARGO_PKG_VERSION");
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (heading, (_, keys)) in &docs {
        // `[[source]] kind = "rss"` -> its header and the kind line
        let (header, kind_line) = match heading.split_once(' ') {
            Some((h, k)) => (h.to_string(), format!("{k}\n")),
            None => (heading.clone(), String::new()),
        };
        let base = format!("{header}\n{kind_line}");
        let default_config = parse(&base).ok();
        for k in keys {
            let cell = k.default.trim();
            // one value in backticks, and nothing else
            if !(cell.starts_with('`') && cell.ends_with('`') && cell.matches('`').count() == 2) {
                continue;
            }
            let literal = cell.trim_matches('`').replace("VERSION", version);
            if toml::from_str::<toml::Table>(&format!("v = {literal}")).is_err() {
                continue; // a URL or a path written as text, not a TOML value
            }
            checked += 1;
            let text = format!("{base}{} = {literal}\n", k.key);
            match (parse(&text), &default_config) {
                (Ok(with), Some(without)) if &with != without => wrong.push(format!(
                    "{DOC_PATH}:{}: {heading} `{}`: the documented default {literal} is not the \
                     code's default",
                    k.line, k.key
                )),
                (Ok(_), _) => {}
                (Err(e), None) if e.starts_with("missing field") => {}
                (Err(e), _) => wrong.push(format!(
                    "{DOC_PATH}:{}: {heading} `{}` = {literal} does not parse: {e}",
                    k.line, k.key
                )),
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} documented defaults were checked"
    );
    assert!(wrong.is_empty(), "\n{}\n", wrong.join("\n"));
}
