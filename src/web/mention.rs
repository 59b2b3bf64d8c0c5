//! `/m/ID`: one mention (its full text with the matched terms, the scores, a link to
//! the post and its thread, the history and the notes) and its actions, each a
//! form that POSTs to `/m/ID/{ack|resolve|dismiss|reopen}` with the CSRF token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::auth::Authed;
use super::page::{back_to, safe_back};
use super::view::MentionView;
use super::WebState;
use crate::store::{Action, DismissReason, StoreError, Transition, TriageError, Via};

/// `GET /m/ID`
pub async fn show(
    State(state): State<WebState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Response {
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let id = store.resolve(&id)?;
        match id {
            Some(id) => store.get_stored(&id),
            None => Ok(None),
        }
    })
    .await;
    match found {
        Ok(Ok(Some(m))) => {
            let now = chrono::Utc::now();
            let view = MentionView {
                overdue: (state.overdue)(&m, now),
                ..MentionView::of(&m, now, true)
            };
            let mut replies = super::reply::by_mention(&state);
            let reply = super::reply::reply_box(
                state.replies.as_ref(),
                &m,
                &replies.remove(&m.id).unwrap_or_default(),
                authed.user(),
            );
            state.pages.render(
                "mention.html",
                minijinja::context! {
                    user => authed.user(), csrf => &authed.session.csrf, m => view,
                    back => format!("/m/{}", m.id), reasons => REASONS, reply => reply,
                },
            )
        }
        Ok(Ok(None)) => state.pages.error(StatusCode::NOT_FOUND, "No such mention."),
        Ok(Err(e)) => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => state
            .pages
            .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The dismissal reasons, as the forms offer them.
pub const REASONS: [(&str, &str); 4] = [
    ("not-relevant", "Not relevant"),
    ("not-negative", "Not negative"),
    ("spam", "Spam"),
    ("duplicate", "Duplicate"),
];

/// What an action form sends.
#[derive(Debug, Default, Deserialize)]
pub struct ActionForm {
    pub csrf: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// With reason `not-negative`: the label it should have had.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub back: Option<String>,
}

/// The change a form asks for, or why it is not one.
pub fn transition(verb: &str, f: &ActionForm, by: &str) -> Result<Transition, String> {
    let action = match verb {
        "ack" => Action::Ack,
        "resolve" => Action::Resolve,
        "reopen" => Action::Reopen,
        "dismiss" => {
            let r = f.reason.as_deref().unwrap_or("");
            let reason = match r {
                "not-relevant" => DismissReason::NotRelevant,
                "not-negative" => DismissReason::NotNegative,
                "spam" => DismissReason::Spam,
                "duplicate" => DismissReason::Duplicate,
                _ => return Err(format!("{r:?} is not a reason to dismiss a mention")),
            };
            Action::Dismiss(reason)
        }
        other => return Err(format!("{other:?} is not an action")),
    };
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(Transition {
        action,
        by: by.to_string(),
        via: Via::Web,
        note: clean(&f.note),
        corrected: clean(&f.label),
    })
}

/// Applies `t` to mention `id` (blocking: off the runtime). `Err((status, why))`.
pub async fn apply(
    state: &WebState,
    id: String,
    t: Transition,
) -> Result<(), (StatusCode, String)> {
    let store = state.store.clone();
    let search = state.search.clone();
    let done = tokio::task::spawn_blocking(move || {
        let real = store.resolve(&id)?.unwrap_or(id);
        let r = store.triage(&real, &t, chrono::Utc::now());
        if let (Ok(_), Some(s)) = (&r, &search) {
            // the index keeps each mention's status: refresh it
            s.changed([real]);
        }
        r
    })
    .await
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match done {
        Ok(_) => Ok(()),
        Err(StoreError::Triage(e)) => Err((
            match e {
                TriageError::NoMention(_) => StatusCode::NOT_FOUND,
                TriageError::Input(_) => StatusCode::BAD_REQUEST,
                _ => StatusCode::CONFLICT,
            },
            e.to_string(),
        )),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// `POST /m/ID/ACTION`
pub async fn change(
    State(state): State<WebState>,
    authed: Authed,
    Path((id, verb)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Some(r) = authed.refuse_bad_csrf(&state, &f.csrf) {
        return r;
    }
    let t = match transition(&verb, &f, authed.user()) {
        Ok(t) => t,
        Err(e) => return state.pages.error(StatusCode::BAD_REQUEST, &e),
    };
    match apply(&state, id, t).await {
        Ok(()) => back_to(Some(safe_back(f.back.as_deref()))),
        Err((status, why)) => state.pages.error(status, &why),
    }
}
