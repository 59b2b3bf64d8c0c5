//! `[email]`: how alerts leave the building by mail. Settings only: names password
//! files and CAs (the transport reads them), never holds a secret's value.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::util::Problem;
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
    /// A PEM certificate to trust in addition to the system roots (a private CA or a
    /// self-signed relay).
    pub ca_file: Option<PathBuf>,
    /// SMTP connection timeout; one whole email (connection to the server's last
    /// answer) is abandoned, and retried, after 4 times this.
    #[serde(with = "crate::util::duration")]
    pub timeout: Duration,
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
            ca_file: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl EmailConfig {
    fn smtp_url_problems(&self, u: &str, out: &mut Vec<Problem>) {
        let url = match url::Url::parse(u) {
            Ok(url) if matches!(url.scheme(), "smtp" | "smtps") && url.host_str().is_some() => url,
            _ => {
                let shown = crate::alerts::redact_url(u);
                out.push(Problem::new(
                    "email.smtp_url",
                    format!(
                        "{shown:?} is not an SMTP URL: expected \"smtp://host:587\" (STARTTLS) or \"smtps://host:465\" (implicit TLS)"
                    ),
                ));
                return;
            }
        };
        if url.password().is_some() {
            out.push(Problem::new(
                "email.smtp_url",
                crate::alerts::send::PASSWORD_IN_URL,
            ));
        }
        let credentials = !url.username().is_empty() || self.username.is_some();
        let mode = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        if let Some(mode @ ("none" | "opportunistic")) = mode.as_deref() {
            if url.scheme() == "smtp" && credentials && !crate::alerts::send::is_loopback(&url) {
                let host = url.host_str().unwrap_or_default();
                out.push(Problem::new(
                    "email.smtp_url",
                    crate::alerts::send::clear_text_auth(mode, host),
                ));
            }
        }
    }

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
        if let Some(u) = &self.smtp_url {
            self.smtp_url_problems(u, &mut out);
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
