//! Replying from the inbox: the reply form of a mention (the accounts its brands may
//! answer as, the saved replies, the network's limit), the replies it has and their
//! state, and the forms that write one (`POST /r/new/MENTION`), approve, retry or
//! drop one (`POST /r/REPLY/{approve|retry|drop}`). Every form carries the CSRF
//! token; only a logged-in user gets here.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::page::{back_to, safe_back};
use super::WebState;
use crate::reply::{Desk, Offer, ReplyError, Write};
use crate::store::replies::{ReplyRecord, ReplyState};
use crate::store::{StoredMention, Via};

/// A saved reply, filled in for one mention.
#[derive(Debug, Serialize)]
pub struct Saved {
    pub name: String,
    pub text: String,
}

/// One reply as the pages show it.
#[derive(Debug, Serialize)]
pub struct ReplyView {
    pub id: String,
    pub account: String,
    pub text: String,
    pub author: String,
    pub state: &'static str,
    pub error: Option<String>,
    pub url: Option<String>,
    pub approved_by: Option<String>,
    /// A draft someone else wrote: this user may approve it.
    pub can_approve: bool,
    /// Failed: it may be retried or dropped; a draft may be dropped.
    pub can_retry: bool,
    pub can_drop: bool,
}

/// What a mention's reply section needs.
#[derive(Debug, Serialize)]
pub struct ReplyBox {
    /// Accounts that can answer it now.
    pub offers: Vec<Offer>,
    /// Accounts of its brands that cannot, and why.
    pub unfit: Vec<Offer>,
    pub saved: Vec<Saved>,
    pub require_approval: bool,
    pub replies: Vec<ReplyView>,
    /// A draft waits for approval.
    pub waiting: bool,
}

fn view(r: &ReplyRecord, user: &str) -> ReplyView {
    ReplyView {
        id: r.id.clone(),
        account: r.account.clone(),
        text: r.text.clone(),
        author: r.author.clone(),
        state: r.state.as_str(),
        error: r.last_error.clone(),
        url: r
            .url
            .clone()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
        approved_by: r.approved_by.clone(),
        can_approve: r.state == ReplyState::Draft && !r.author.eq_ignore_ascii_case(user),
        can_retry: r.state == ReplyState::Failed,
        can_drop: matches!(r.state, ReplyState::Draft | ReplyState::Failed),
    }
}

/// The reply section of `m` for `user`, given its replies; `None` without replies
/// configured.
pub fn reply_box(
    desk: Option<&Arc<Desk>>,
    m: &StoredMention,
    replies: &[ReplyRecord],
    user: &str,
) -> Option<ReplyBox> {
    let r = desk?.get();
    let (offers, unfit): (Vec<Offer>, Vec<Offer>) =
        r.offers(m).into_iter().partition(|o| o.unfit.is_none());
    if offers.is_empty() && unfit.is_empty() && replies.is_empty() {
        return None;
    }
    let saved = r
        .templates()
        .iter()
        .map(|t| Saved {
            name: t.name.clone(),
            text: crate::reply::text::fill(&t.text, m),
        })
        .collect();
    Some(ReplyBox {
        offers,
        unfit,
        saved,
        require_approval: r.require_approval(),
        waiting: replies.iter().any(|x| x.state == ReplyState::Draft),
        replies: replies.iter().map(|x| view(x, user)).collect(),
    })
}

/// Every reply, by mention (for a page of rows).
pub fn by_mention(state: &WebState) -> HashMap<String, Vec<ReplyRecord>> {
    let mut out: HashMap<String, Vec<ReplyRecord>> = HashMap::new();
    if state.replies.is_none() {
        return out;
    }
    match state.store.replies() {
        Ok(all) => {
            for r in all {
                out.entry(r.mention_id.clone()).or_default().push(r);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read the replies"),
    }
    out
}

/// What the reply form sends.
#[derive(Debug, Default, Deserialize)]
pub struct ReplyForm {
    pub csrf: String,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub back: Option<String>,
}

fn status_of(e: &ReplyError) -> StatusCode {
    match e {
        ReplyError::NoMention(_) | ReplyError::NoReply(_) => StatusCode::NOT_FOUND,
        ReplyError::NoAccount(_) | ReplyError::Refused(_) => StatusCode::BAD_REQUEST,
        ReplyError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn clean(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(|t| t.replace("\r\n", "\n"))
        .filter(|t| !t.trim().is_empty())
}

/// The desk, once the form's CSRF token is the session's; else the page to answer.
fn checked(state: &WebState, authed: &Authed, f: &ReplyForm) -> Result<Arc<Desk>, Box<Response>> {
    if let Some(r) = authed.refuse_bad_csrf(state, &f.csrf) {
        return Err(Box::new(r));
    }
    state.replies.clone().ok_or_else(|| {
        Box::new(
            state
                .pages
                .error(StatusCode::NOT_FOUND, "No [[reply_account]] is configured."),
        )
    })
}

/// Back where the form came from, or the error page.
fn finish(
    state: &WebState,
    done: Result<Result<ReplyRecord, ReplyError>, tokio::task::JoinError>,
    f: &ReplyForm,
) -> Response {
    match done {
        Ok(Ok(_)) => back_to(Some(safe_back(f.back.as_deref()))),
        Ok(Err(e)) => state.pages.error(status_of(&e), &e.to_string()),
        Err(e) => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `POST /r/new/MENTION`: writes a reply (queued, or a draft with approval).
pub async fn write(
    State(state): State<WebState>,
    authed: Authed,
    Path(mention): Path<String>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let desk = match checked(&state, &authed, &f) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let text = clean(&f.text);
    let w = Write {
        mention_id: mention.clone(),
        account: f.account.clone().unwrap_or_default(),
        template: if text.is_some() {
            None
        } else {
            clean(&f.template)
        },
        text,
        author: authed.user().to_string(),
        via: Via::Web,
    };
    let store = state.store.clone();
    let done = tokio::task::spawn_blocking(move || {
        let id = store
            .resolve(&w.mention_id)?
            .unwrap_or(w.mention_id.clone());
        desk.get().write(
            Write {
                mention_id: id,
                ..w
            },
            chrono::Utc::now(),
        )
    })
    .await;
    finish(&state, done, &f)
}

/// `POST /r/REPLY/ACTION`: approve (with the edited text), retry or drop.
pub async fn act(
    State(state): State<WebState>,
    authed: Authed,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ReplyForm>,
) -> Response {
    let desk = match checked(&state, &authed, &f) {
        Ok(d) => d,
        Err(r) => return *r,
    };
    let user = authed.user().to_string();
    let text = clean(&f.text);
    let done = tokio::task::spawn_blocking(move || {
        let r = desk.get();
        match action.as_str() {
            "approve" => r.approve(&id, &user, text),
            "retry" => r.retry(&id, &user),
            "drop" => r.drop_reply(&id, &user),
            other => Err(ReplyError::Refused(format!("{other:?} is not an action"))),
        }
    })
    .await;
    finish(&state, done, &f)
}
