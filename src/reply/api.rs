//! What the daemon's reply routes take and answer (`POST /api/replies`, `GET
//! /api/replies/ID`, `POST /api/replies/ID/{approve|retry|drop}`): the CLI sends
//! these, and so may any client with the API token.

use serde::{Deserialize, Serialize};

use super::service::Write;
use crate::store::Via;

/// `POST /api/replies`: write a reply to `mention` (an id, post id or URL).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteRequest {
    pub mention: String,
    /// The `[[reply_account]]` it goes out as.
    pub account: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    /// Who writes it (the CLI sends `$USER`).
    pub by: String,
    /// `cli` when the CLI sends it; anything else is recorded as `api`.
    #[serde(default)]
    pub via: Option<String>,
}

/// `POST /api/replies/ID/ACTION`: who acts, and an approval's edited text.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActRequest {
    pub by: String,
    #[serde(default)]
    pub text: Option<String>,
}

/// The longest name a caller may give as `by`.
const MAX_BY: usize = 64;

impl WriteRequest {
    /// The write it asks for, with `mention` resolved to `mention_id`; `Err(why)` for
    /// a `by` that is empty or too long.
    pub fn into_write(self, mention_id: String) -> Result<Write, String> {
        let by = checked_by(&self.by)?;
        Ok(Write {
            mention_id,
            account: self.account,
            text: self.text,
            template: self.template,
            author: by,
            via: match self.via.as_deref() {
                Some("cli") => Via::Cli,
                _ => Via::Api,
            },
        })
    }
}

/// `by` trimmed, or why it is not a name.
pub fn checked_by(by: &str) -> Result<String, String> {
    let by = by.trim();
    if by.is_empty() || by.chars().count() > MAX_BY || by.chars().any(char::is_control) {
        return Err(format!(
            "by must name who acts (1 to {MAX_BY} characters, no control characters)"
        ));
    }
    Ok(by.to_string())
}
