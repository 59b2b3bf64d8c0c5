//! `[[reply_account]]` (the brand's accounts that may answer), `[[reply_template]]`
//! (saved replies) and `[reply]`. Settings only: never reads a secret's value.

use std::path::PathBuf;

use serde::Deserialize;

use crate::util::Problem;

/// One `[[reply_account]]`; `kind` picks the network.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ReplyAccountConfig {
    Mastodon(MastodonAccount),
    Bluesky(BlueskyAccount),
    Stackexchange(StackExchangeAccount),
}

/// A Mastodon account on its home server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonAccount {
    /// How the inbox, the CLI and `reply_as` name it.
    pub name: String,
    /// The account's home server, `https://acme.social`.
    pub instance: String,
    /// An access token with `write:statuses` and `read:search`.
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
}

/// A Bluesky account, logged in with an app password.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlueskyAccount {
    pub name: String,
    /// The account's handle, `acme.com`.
    pub handle: String,
    /// An app password (Settings → App passwords), never the account's own.
    #[serde(default)]
    pub app_password_env: Option<String>,
    #[serde(default)]
    pub app_password_file: Option<PathBuf>,
    /// The account's PDS (default `https://bsky.social`).
    #[serde(default)]
    pub pds_url: Option<String>,
}

/// A Stack Exchange user on one site, through an app's key and the user's token.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackExchangeAccount {
    pub name: String,
    /// The site the account answers on (default `stackoverflow`).
    #[serde(default = "default_site")]
    pub site: String,
    /// The app's key.
    #[serde(default)]
    pub key_env: Option<String>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// An access token with the `write_access` scope.
    #[serde(default)]
    pub access_token_env: Option<String>,
    #[serde(default)]
    pub access_token_file: Option<PathBuf>,
    /// The API (default `https://api.stackexchange.com/2.3`).
    #[serde(default)]
    pub base_url: Option<String>,
}

fn default_site() -> String {
    "stackoverflow".into()
}

/// One saved reply: `{author}` becomes the post's author, `{brand}` the brand.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyTemplate {
    pub name: String,
    pub text: String,
}

/// `[reply]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplyConfig {
    /// A written reply is a draft until another user approves it.
    pub require_approval: bool,
}

/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 2] = ["{author}", "{brand}"];

impl ReplyAccountConfig {
    pub fn name(&self) -> &str {
        match self {
            ReplyAccountConfig::Mastodon(a) => &a.name,
            ReplyAccountConfig::Bluesky(a) => &a.name,
            ReplyAccountConfig::Stackexchange(a) => &a.name,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            ReplyAccountConfig::Mastodon(_) => "mastodon",
            ReplyAccountConfig::Bluesky(_) => "bluesky",
            ReplyAccountConfig::Stackexchange(_) => "stackexchange",
        }
    }

    /// Each secret: (key stem, `_env`, `_file`).
    #[allow(clippy::type_complexity)]
    pub fn secrets(&self) -> Vec<(&'static str, Option<&String>, Option<&PathBuf>)> {
        match self {
            ReplyAccountConfig::Mastodon(a) => {
                vec![("token", a.token_env.as_ref(), a.token_file.as_ref())]
            }
            ReplyAccountConfig::Bluesky(a) => vec![(
                "app_password",
                a.app_password_env.as_ref(),
                a.app_password_file.as_ref(),
            )],
            ReplyAccountConfig::Stackexchange(a) => vec![
                ("key", a.key_env.as_ref(), a.key_file.as_ref()),
                (
                    "access_token",
                    a.access_token_env.as_ref(),
                    a.access_token_file.as_ref(),
                ),
            ],
        }
    }

    /// The URLs it names (checked to parse).
    fn urls(&self) -> Vec<(&'static str, &str)> {
        match self {
            ReplyAccountConfig::Mastodon(a) => vec![("instance", a.instance.as_str())],
            ReplyAccountConfig::Bluesky(a) => a
                .pds_url
                .as_deref()
                .map(|u| ("pds_url", u))
                .into_iter()
                .collect(),
            ReplyAccountConfig::Stackexchange(a) => a
                .base_url
                .as_deref()
                .map(|u| ("base_url", u))
                .into_iter()
                .collect(),
        }
    }

    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let mut out = Vec::new();
        let name = self.name();
        let key = |k: &str| format!("reply_account[{index}].{k}");
        if name.trim().is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            out.push(Problem::new(
                key("name"),
                format!("{name:?} is not a name (letters, digits, - and _, no spaces)"),
            ));
        }
        for (stem, env, file) in self.secrets() {
            match (env, file) {
                (Some(_), Some(_)) => out.push(Problem::new(
                    key(&format!("{stem}_file")),
                    format!("reply account {name:?}: set {stem}_env or {stem}_file, not both"),
                )),
                (None, None) => out.push(Problem::new(
                    key(&format!("{stem}_env")),
                    format!("reply account {name:?}: set {stem}_env (or {stem}_file): it cannot post without it"),
                )),
                _ => {}
            }
        }
        for (k, u) in self.urls() {
            match url::Url::parse(u) {
                Ok(p) if matches!(p.scheme(), "http" | "https") => {}
                Ok(_) => out.push(Problem::new(
                    key(k),
                    format!("reply account {name:?}: {u:?} is not an http(s) URL"),
                )),
                Err(e) => out.push(Problem::new(
                    key(k),
                    format!("reply account {name:?}: {u:?} is not a URL ({e})"),
                )),
            }
        }
        if let ReplyAccountConfig::Bluesky(a) = self {
            if !a.handle.contains('.') || a.handle.contains(['/', ' ', '@']) {
                out.push(Problem::new(
                    key("handle"),
                    format!("reply account {name:?}: {:?} is not a Bluesky handle (acme.com, acme.bsky.social)", a.handle),
                ));
            }
        }
        out
    }
}

impl ReplyTemplate {
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.text.trim().is_empty() {
            out.push(Problem::new(
                format!("reply_template[{index}].text"),
                format!("reply template {:?} is empty", self.name),
            ));
        }
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find('{') {
            let tail = &rest[start..];
            let end = tail.find('}').map_or(tail.len(), |e| e + 1);
            let p = &tail[..end];
            if !PLACEHOLDERS.contains(&p) {
                out.push(Problem::new(
                    format!("reply_template[{index}].text"),
                    format!(
                        "reply template {:?}: {p:?} is not a placeholder (use {})",
                        self.name,
                        PLACEHOLDERS.join(", ")
                    ),
                ));
            }
            rest = &tail[end..];
        }
        out
    }
}

/// The problems of the accounts and templates together: unique names, and each
/// brand's `reply_as` naming an account.
pub fn problems(
    accounts: &[ReplyAccountConfig],
    templates: &[ReplyTemplate],
    brands: &[crate::matcher::BrandConfig],
) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, a) in accounts.iter().enumerate() {
        out.extend(a.problems(i));
        if !names.insert(a.name().to_lowercase()) {
            out.push(Problem::new(
                format!("reply_account[{i}].name"),
                format!("another [[reply_account]] is already named {:?}", a.name()),
            ));
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, t) in templates.iter().enumerate() {
        out.extend(t.problems(i));
        if !seen.insert(t.name.to_lowercase()) {
            out.push(Problem::new(
                format!("reply_template[{i}].name"),
                format!("another [[reply_template]] is already named {:?}", t.name),
            ));
        }
    }
    for (i, b) in brands.iter().enumerate() {
        for (j, n) in b.reply_as.iter().enumerate() {
            if !accounts.iter().any(|a| a.name().eq_ignore_ascii_case(n)) {
                let known: Vec<&str> = accounts.iter().map(|a| a.name()).collect();
                out.push(Problem::new(
                    format!("brand[{i}].reply_as[{j}]"),
                    format!(
                        "no [[reply_account]] is named {n:?} (configured: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    out
}
