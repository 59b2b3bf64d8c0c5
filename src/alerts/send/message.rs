//! The MIME message of one rendered email: multipart/alternative (plain text and
//! HTML, quoted-printable), a Message-ID seeded by the caller.
//!
//! Builds only: never sends. Header values come from the renderer, already
//! header-safe; lettre encodes them.

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use crate::alerts::render::Rendered;
use crate::alerts::AlertError;

/// Builds the email for `to`; `id` seeds the Message-ID.
pub fn build_message(
    from: &Mailbox,
    to: &str,
    r: &Rendered,
    id: &str,
    date: DateTime<Utc>,
) -> Result<Message, AlertError> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| AlertError::Address(format!("{to:?} is not an email address: {e}")))?;
    let domain = from.email.domain().to_string();
    let msg = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(format!("<{id}@{domain}>")))
        .date(date.into())
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(r.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .header(ContentTransferEncoding::QuotedPrintable)
                        .body(r.html.clone()),
                ),
        )
        .map_err(|e| AlertError::Address(e.to_string()))?;
    Ok(msg)
}
