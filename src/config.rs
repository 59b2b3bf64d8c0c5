//! The configuration file as a whole. Each component's settings type lives beside
//! the component; this module assembles them, reports errors with file, line and
//! column, and validates what serde cannot.
//!
//! This module depends on each component's settings type, not the other way round: a
//! component gets what it needs from the whole file as plain values (the sources:
//! [`Config::source_context`]) and reports [`Problem`]s, which live in `crate::util`.
//! It reads and checks files; it never starts a component.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::alerts::{AlertsConfig, EmailConfig};
use crate::classifier::ModelConfig;
use crate::daemon::DaemonConfig;
use crate::matcher::{BrandConfig, Matcher};
use crate::sources::{HttpSettings, SourceConfig, SourceContext, SourceError, StateStore};

/// The default configuration, compiled into the binary (a copy of `config/overhear.toml`).
pub const EMBEDDED_DEFAULT: &str = include_str!("../config/overhear.toml");

/// A whole configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub daemon: DaemonConfig,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub email: EmailConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    #[serde(default, rename = "brand")]
    pub brands: Vec<BrandConfig>,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// `[cluster]`: this daemon is the hub of workers over NATS (`overhear run`), or
    /// this file configures a worker (`overhear worker`). Absent: one process.
    #[serde(default)]
    pub cluster: Option<crate::cluster::ClusterConfig>,
    /// `[[reply_account]]`: the brand's accounts that may answer mentions.
    #[serde(default, rename = "reply_account")]
    pub reply_accounts: Vec<crate::reply::ReplyAccountConfig>,
    /// `[[reply_template]]`: saved replies.
    #[serde(default, rename = "reply_template")]
    pub reply_templates: Vec<crate::reply::ReplyTemplate>,
    /// `[reply]`.
    #[serde(default)]
    pub reply: crate::reply::ReplyConfig,
}

/// Something wrong in a config file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `<embedded default>`).
    pub origin: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{}:{l}:{c}: {}", self.origin, self.message),
            (Some(l), None) => write!(f, "{}:{l}: {}", self.origin, self.message),
            _ => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Components report their settings' problems with this type; it lives in
/// [`crate::util`] so that no component's settings depend on this module.
pub use crate::util::Problem;

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

/// Finds the byte span of a dotted key (`brand[1].query`, `model.alert_threshold`):
/// the deepest part of the path that exists in the document.
fn key_span(doc: &toml_edit::ImDocument<&str>, key: &str) -> Option<std::ops::Range<usize>> {
    let mut table: &dyn toml_edit::TableLike = doc.as_table();
    let mut span = None;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((k, item)) = table.get_key_value(name) else {
            break;
        };
        span = k.span().or(span);
        let next: Option<&dyn toml_edit::TableLike> = match (item, index) {
            (toml_edit::Item::ArrayOfTables(a), Some(i)) => a.get(i).map(|t| {
                span = t.span().or(span.clone());
                t as &dyn toml_edit::TableLike
            }),
            (toml_edit::Item::Value(toml_edit::Value::Array(a)), Some(i)) => {
                span = a.get(i).and_then(|v| v.span()).or(span);
                None
            }
            (item, _) => {
                span = item.span().or(span);
                item.as_table_like()
            }
        };
        match next {
            Some(t) if parts.peek().is_some() => table = t,
            _ => break,
        }
    }
    span
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        Config::load_with_text(path).map(|(c, _)| c)
    }

    /// [`Config::load`], with the text it read (what a hub hands its workers: the
    /// same bytes it runs, read once).
    pub fn load_with_text(path: &Path) -> Result<(Config, String), ConfigErrors> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                origin: origin.clone(),
                line: None,
                column: None,
                message: format!("cannot read the config file: {e}"),
            }])
        })?;
        let config = Config::parse(&text, &origin)?;
        Ok((config, text))
    }

    /// The configuration compiled into the binary.
    pub fn embedded() -> Result<Config, ConfigErrors> {
        Config::parse(EMBEDDED_DEFAULT, "<embedded default config>")
    }

    /// `path`, or the embedded default when `None`.
    pub fn load_or_default(path: Option<&Path>) -> Result<Config, ConfigErrors> {
        match path {
            Some(p) => Config::load(p),
            None => Config::embedded(),
        }
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigErrors> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = line_col(text, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            ConfigErrors(vec![ConfigError {
                origin: origin.to_string(),
                line,
                column,
                message: e.message().trim().to_string(),
            }])
        })?;
        let problems = config.problems();
        if problems.is_empty() {
            return Ok(config);
        }
        let doc = toml_edit::ImDocument::parse(text).ok();
        let errors = problems
            .into_iter()
            .map(|p| {
                let span = doc.as_ref().and_then(|d| key_span(d, &p.key));
                let (line, column) = match span {
                    Some(s) => {
                        let (l, c) = line_col(text, s.start + p.offset_in_value.unwrap_or(0));
                        (Some(l), Some(c))
                    }
                    None => (None, None),
                };
                ConfigError {
                    origin: origin.to_string(),
                    line,
                    column,
                    message: format!("{}: {}", p.key, p.message),
                }
            })
            .collect();
        Err(ConfigErrors(errors))
    }

    /// Everything serde could not check.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(self.daemon.problems());
        out.extend(self.model.problems());
        out.extend(self.email.problems());
        out.extend(self.alerts.problems(&self.brands));
        out.extend(crate::watch::config::problems(&self.brands));
        out.extend(crate::reply::config::problems(
            &self.reply_accounts,
            &self.reply_templates,
            &self.brands,
        ));
        if let Some(c) = &self.cluster {
            out.extend(c.problems());
        }
        let mut names = std::collections::HashSet::new();
        for (i, b) in self.brands.iter().enumerate() {
            if !names.insert(b.name.to_lowercase()) {
                out.push(Problem::new(
                    format!("brand[{i}].name"),
                    format!("a brand named {:?} is already defined", b.name),
                ));
            }
            out.extend(b.problems(i));
        }
        let mut names = std::collections::HashSet::new();
        for (i, s) in self.sources.iter().enumerate() {
            let name = s.name();
            if !names.insert(name.clone()) {
                out.push(Problem::new(
                    format!("source[{i}]"),
                    format!(
                        "a source named {name:?} is already defined: give each [[source]] of the \
                         same kind its own name = \"...\""
                    ),
                ));
            }
            out.extend(s.problems(i));
            if let Some(b) = s.brand().filter(|b| !b.trim().is_empty()) {
                if !self
                    .brands
                    .iter()
                    .any(|x| x.name.eq_ignore_ascii_case(b.trim()))
                {
                    out.push(Problem::new(
                        format!("source[{i}].brand"),
                        format!(
                            "source {name:?}: brand {b:?} is not a [[brand]] (an owned channel names one of them)"
                        ),
                    ));
                }
            }
        }
        out
    }

    /// What the sources are built with: `[daemon]`'s user agent and poll interval, the
    /// terms the brands' queries send to server-side search
    /// ([`Matcher::all_search_terms`]) and `state` for the cursors. The daemon,
    /// `backfill` and `poll --once` all build their sources through this, so that they
    /// fetch the same thing.
    pub fn source_context(
        &self,
        matcher: &Matcher,
        state: Arc<dyn StateStore>,
    ) -> Result<SourceContext, SourceError> {
        SourceContext::new(
            self.daemon.user_agent.clone(),
            self.daemon.poll_interval,
            matcher.all_search_terms(),
            state,
            HttpSettings::default(),
        )
    }

    /// The mail folder of the file transport.
    pub fn mail_dir(&self) -> PathBuf {
        self.email
            .mail_dir
            .clone()
            .unwrap_or_else(|| self.daemon.data_dir.join("mail"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<ConfigError> {
        Config::parse(text, "t.toml").unwrap_err().0
    }

    #[test]
    fn embedded_default_is_valid() {
        let c = Config::embedded().unwrap();
        assert!(!c.brands.is_empty());
        assert!(!c.sources.is_empty());
    }

    #[test]
    fn example_full_is_valid() {
        let text = include_str!("../config/example-full.toml");
        Config::parse(text, "example-full.toml").unwrap();
    }

    #[test]
    fn unknown_key_is_an_error_with_line_and_column() {
        let e = errors("[model]\npath = \"m\"\nalert_treshold = 0.9\n");
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].line, e[0].column), (Some(3), Some(1)), "{}", e[0]);
        assert!(
            e[0].message.contains("unknown field `alert_treshold`"),
            "{}",
            e[0]
        );
        assert!(
            e[0].message.contains("alert_threshold"),
            "lists the expected keys: {}",
            e[0]
        );
    }

    #[test]
    fn wrong_type_names_what_was_expected() {
        let e = errors("[model]\nalert_threshold = \"high\"\n");
        assert_eq!(e[0].line, Some(2));
        assert!(
            e[0].message.contains("f32") || e[0].message.contains("float"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn model_precision_is_auto_unless_set_and_typos_list_the_choices() {
        use crate::classifier::Precision;
        let c = Config::parse("[model]\npath = \"m\"\n", "t.toml").unwrap();
        assert_eq!(c.model.precision, Precision::Auto);
        assert_ne!(c.model.precision.resolve(), Precision::Auto);
        let c = Config::parse("[model]\nprecision = \"bf16\"\n", "t.toml").unwrap();
        assert_eq!(c.model.precision, Precision::Bf16);
        let e = errors("[model]\nprecision = \"fp16\"\n");
        assert_eq!((e[0].line, e[0].column), (Some(2), Some(13)), "{}", e[0]);
        assert!(e[0].message.contains("`f32`, `bf16`"), "{}", e[0]);
    }

    #[test]
    fn unknown_source_kind_lists_the_kinds() {
        let e = errors("[[source]]\nkind = \"hackrnews\"\n");
        assert!(e[0].message.contains("hackernews"), "{}", e[0]);
        assert_eq!((e[0].line, e[0].column), (Some(2), Some(8)), "{}", e[0]);
    }

    #[test]
    fn secrets_are_not_accepted_inline() {
        let e = errors("[email]\npassword = \"hunter2\"\n");
        assert!(
            e[0].message.contains("unknown field `password`"),
            "{}",
            e[0]
        );
        assert!(e[0].message.contains("password_env"), "{}", e[0]);
    }

    #[test]
    fn validation_errors_point_at_the_key() {
        let text = "[model]\npath = \"m\"\nalert_threshold = 1.5\n\n[[brand]]\nname = \"A\"\nquery = \"a\"\n\n[[brand]]\nname = \"a\"\nquery = \"b\"\n";
        let e = errors(text);
        assert_eq!(e.len(), 2, "{e:?}");
        assert_eq!(e[0].line, Some(3), "{}", e[0]);
        assert!(e[0].message.contains("model.alert_threshold"), "{}", e[0]);
        assert_eq!(e[1].line, Some(10), "{}", e[1]);
        assert!(e[1].message.contains("already defined"), "{}", e[1]);
    }

    #[test]
    fn duplicate_source_names_are_errors() {
        let text = "[[source]]\nkind = \"rss\"\nurl = \"https://a.example/feed\"\n[[source]]\nkind = \"rss\"\nurl = \"https://b.example/feed\"\n";
        let e = errors(text);
        assert!(e[0].message.contains("already defined"), "{}", e[0]);
        assert_eq!(e[0].line, Some(4), "{}", e[0]);
    }

    #[test]
    fn query_errors_point_at_the_column_in_the_file_past_non_ascii() {
        let e = errors("[[brand]]\nname = \"A\"\nquery = 'é OR'\n");
        assert_eq!(e.len(), 1, "{e:?}");
        // the query ends at the closing quote, column 14 of line 3
        assert_eq!((e[0].line, e[0].column), (Some(3), Some(14)), "{}", e[0]);
        assert!(e[0].message.contains("brand[0].query"), "{}", e[0]);
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
