//! `[email]`: how alerts leave the building.

use std::path::PathBuf;

use serde::Deserialize;

use crate::config::Problem;
use crate::util::SecretRef;

/// Mail transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// One .eml file per message in `mail_dir` (default: `<data_dir>/mail`).
    #[default]
    File,
    /// SMTP through `smtp_url`.
    Smtp,
}

/// The `[email]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmailConfig {
    pub transport: TransportKind,
    /// Sender address, e.g. `"overhear <alerts@example.com>"`.
    pub from: String,
    /// `smtp://host:587` (STARTTLS), `smtps://host:465` (implicit TLS); user in the URL
    /// or in `username`.
    pub smtp_url: Option<String>,
    pub username: Option<String>,
    /// Environment variable holding the SMTP password.
    pub password_env: Option<String>,
    /// File holding the SMTP password.
    pub password_file: Option<PathBuf>,
    /// Folder for the file transport.
    pub mail_dir: Option<PathBuf>,
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            transport: TransportKind::File,
            from: "overhear <overhear@localhost>".into(),
            smtp_url: None,
            username: None,
            password_env: None,
            password_file: None,
            mail_dir: None,
        }
    }
}

impl EmailConfig {
    pub fn password(&self) -> SecretRef {
        SecretRef::new(self.password_env.clone(), self.password_file.clone())
    }

    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            out.push(Problem::new(
                "email.from",
                format!(
                    "{:?} is not an email address: expected e.g. \"overhear <alerts@example.com>\"",
                    self.from
                ),
            ));
        }
        if self.transport == TransportKind::Smtp && self.smtp_url.is_none() {
            out.push(Problem::new(
                "email.transport",
                "\"smtp\" needs email.smtp_url (e.g. \"smtps://smtp.example.com:465\")",
            ));
        }
        if self.password_env.is_some() && self.password_file.is_some() {
            out.push(Problem::new(
                "email.password_file",
                "set password_env or password_file, not both",
            ));
        }
        out
    }
}
