//! `/a/TOKEN`: the one-click actions of an alert ("I'll take it", "Resolved", "Not
//! negative"), signed links that need no session (see `links.rs`).
//!
//! Mail scanners (Outlook Safe Links, corporate gateways) fetch every link of a
//! message, so a GET only shows what the link would do, with one button; the POST
//! of that form repeats the token in a hidden field, and only a POST whose token
//! verifies again acts (the daemon's access guard refuses cross-site POSTs). The
//! change is recorded as made `via: email` by the user whose email the link was
//! sent to (else by the recipient's address).
//!
//! A link acts once: the first POST that changes the mention marks it used (the
//! store's `used_links`, claimed atomically before acting, released if nothing
//! changed); any later GET or POST of it says "This link was already used: ACTION
//! by WHO on WHEN" and changes nothing, even after the mention was reopened. A
//! link dies with its recipient (410 "This link no longer works"): the inbox user
//! it was sent to was removed, or the address or webhook is no longer one of the
//! config's alert destinations ([`WebState::destination`]). A mention someone else
//! has moved on gets a page that says what state it is in and who put it there.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use chrono::Utc;
use minijinja::{context, Environment};
use serde::{Deserialize, Serialize};

use super::links::{self, Claims, Key, LinkError};
use super::mention::apply;
use super::WebState;
use crate::alerts::render::{header_safe, AlertAction};
use crate::store::used_links::UsedLink;
use crate::store::{Action, DismissReason, Status, StoredMention, Transition, Triage, Via};

/// The longest excerpt of the post shown, in characters.
const EXCERPT: usize = 280;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            ("layout.html", include_str!("layout.html")),
            ("act.html", include_str!("act.html")),
        ] {
            // compiled in: a syntax error is caught by the tests
            let _ = env.add_template(name, src);
        }
        env
    })
}

fn page(status: StatusCode, ctx: minijinja::Value) -> Response {
    match env().get_template("act.html").and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("the action page cannot be rendered: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "this page cannot be rendered (see the daemon's log)\n",
            )
                .into_response()
        }
    }
}

/// A page with a heading and a message, no mention.
fn refused(status: StatusCode, heading: &str, message: &str) -> Response {
    page(
        status,
        context! { kind => "refused", heading => heading, message => message },
    )
}

/// What the pages show of the mention.
#[derive(Serialize)]
struct View {
    id: String,
    brand: String,
    source: String,
    title: String,
    excerpt: String,
    status: &'static str,
    assignee: Option<String>,
}

impl View {
    fn of(m: &StoredMention) -> View {
        let p = &m.mention.post;
        let mut brands: Vec<&str> = m.mention.brands.iter().map(|b| b.brand.as_str()).collect();
        brands.dedup();
        View {
            id: m.id.clone(),
            brand: brands.join(", "),
            source: if p.site.is_empty() {
                p.source.clone()
            } else {
                format!("{} ({})", p.source, p.site)
            },
            title: header_safe(p.title.as_deref().unwrap_or(""), 200),
            excerpt: header_safe(&p.text, EXCERPT),
            status: m.triage.status.as_str(),
            assignee: m.triage.assignee.clone(),
        }
    }
}

/// "resolved by dana (via email, 2026-12-01 10:00 UTC)": who put it where it is.
fn state_line(t: &Triage) -> String {
    let last = t.history.iter().rev().find(|c| c.to == t.status);
    match (last, t.status) {
        (None, s) => s.to_string(),
        (Some(c), Status::Acknowledged) => format!(
            "acknowledged (assigned to {}) by {} via {} on {}",
            t.assignee.as_deref().unwrap_or(&c.by),
            c.by,
            c.via,
            c.at.format("%Y-%m-%d %H:%M UTC")
        ),
        (Some(c), s) => format!(
            "{s}{} by {} via {} on {}",
            t.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
            c.by,
            c.via,
            c.at.format("%Y-%m-%d %H:%M UTC")
        ),
    }
}

fn question(a: AlertAction) -> &'static str {
    match a {
        AlertAction::Take => "Take this mention (acknowledge it and assign it to you)?",
        AlertAction::Resolve => "Mark this mention resolved?",
        AlertAction::NotNegative => "Mark this mention not negative (dismiss it)?",
    }
}

fn transition(a: AlertAction, by: &str, label: Option<&str>) -> Transition {
    let action = match a {
        AlertAction::Take => Action::Ack,
        AlertAction::Resolve => Action::Resolve,
        AlertAction::NotNegative => Action::Dismiss(DismissReason::NotNegative),
    };
    Transition {
        action,
        by: by.to_string(),
        via: Via::Email,
        note: None,
        corrected: match (a, label) {
            (AlertAction::NotNegative, Some(l @ ("positive" | "neutral"))) => Some(l.into()),
            _ => None,
        },
    }
}

/// A verified link, its mention and who acts.
struct Checked {
    claims: Claims,
    action: AlertAction,
    mention: StoredMention,
    by: String,
    /// The link's id in `used_links`.
    id: Vec<u8>,
    /// What the link already did, if it was used.
    used: Option<UsedLink>,
}

/// Why a link was not followed.
enum Refusal {
    Link(LinkError),
    Store(crate::store::StoreError),
    /// Its user was removed, or its recipient is no longer a destination.
    Revoked,
}

/// Who acts through a link to `claims.recipient`: the user it was made for (who
/// must still exist), else the user whose email it is, else the address itself.
/// `None` when the link's user is gone.
fn acting_user(store: &crate::store::Store, claims: &Claims) -> Result<Option<String>, Refusal> {
    let store_err = |e: crate::store::users::UserError| match e {
        crate::store::users::UserError::Store(e) => Refusal::Store(e),
        other => Refusal::Store(crate::store::StoreError::Invalid(other.to_string())),
    };
    match &claims.user {
        Some(bound) => Ok(store
            .user(&bound.name)
            .map_err(store_err)?
            .filter(|u| bound.is(u))
            .map(|u| u.name)),
        None => Ok(Some(match store.user(&claims.recipient) {
            Ok(Some(u)) => u.name,
            _ => header_safe(&claims.recipient, 64),
        })),
    }
}

/// Verifies `token` and loads what it names; `Err` is the page to answer with.
async fn check(state: &WebState, token: String) -> Result<Checked, Response> {
    let store = state.store.clone();
    let destination = state.destination.clone();
    let found = tokio::task::spawn_blocking(move || {
        let key = Key::load(links::data_dir_of(&store)).map_err(Refusal::Link)?;
        let claims = links::verify(&key, &token, Utc::now()).map_err(Refusal::Link)?;
        let id = links::link_id(&token).ok_or(Refusal::Link(LinkError::Invalid))?;
        if !destination(&claims.recipient) {
            return Err(Refusal::Revoked);
        }
        let by = acting_user(&store, &claims)?.ok_or(Refusal::Revoked)?;
        let used = store.used_link(&id).map_err(Refusal::Store)?;
        let mention = store.get_stored(&claims.mention).map_err(Refusal::Store)?;
        Ok::<_, Refusal>((claims, mention, by, id, used))
    })
    .await;
    let (claims, mention, by, id, used) = match found {
        Ok(Ok(x)) => x,
        Ok(Err(Refusal::Revoked)) => {
            return Err(refused(
                StatusCode::GONE,
                "This link no longer works",
                "The person or channel it was sent to no longer receives this inbox's \
                 alerts. Open the inbox to act on the mention.",
            ))
        }
        Ok(Err(Refusal::Link(LinkError::Invalid))) => {
            return Err(refused(
                StatusCode::FORBIDDEN,
                "This link is not valid",
                "It may have been changed or cut short, or made with a key this overhear no \
                 longer has. Open the inbox to act on the mention.",
            ))
        }
        Ok(Err(Refusal::Link(e @ LinkError::Expired(_)))) => {
            return Err(refused(
                StatusCode::GONE,
                "This link has expired",
                &format!("{e}; open the inbox to act on it."),
            ))
        }
        Ok(Err(e)) => {
            match e {
                Refusal::Link(e) => tracing::error!("an action link cannot be checked: {e}"),
                Refusal::Store(e) => tracing::error!("an action link cannot be checked: {e}"),
                Refusal::Revoked => {}
            }
            return Err(refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This link cannot be checked now",
                "See the daemon's log; open the inbox to act on the mention.",
            ));
        }
        Err(e) => {
            return Err(refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This link cannot be checked now",
                &e.to_string(),
            ))
        }
    };
    let Some(mention) = mention else {
        return Err(refused(
            StatusCode::NOT_FOUND,
            "This mention is gone",
            "It is no longer stored (retention removed it).",
        ));
    };
    let Some(action) = claims.action() else {
        return Err(refused(StatusCode::FORBIDDEN, "This link is not valid", ""));
    };
    Ok(Checked {
        claims,
        action,
        mention,
        by,
        id,
        used,
    })
}

/// The page of a link already used: what it did, by whom, when; where the
/// mention is now. Changes nothing.
fn used_page(c: &Checked, used: &UsedLink, m: &StoredMention) -> Response {
    let mut probe = m.triage.clone();
    let could = probe
        .apply(&m.id, &transition(c.action, &c.by, None), Utc::now())
        .is_ok();
    let state = if could {
        format!(
            "It is now {}; open the inbox to act on it.",
            state_line(&m.triage)
        )
    } else {
        format!("This mention is already {}.", state_line(&m.triage))
    };
    page(
        StatusCode::OK,
        context! {
            kind => "already", m => View::of(m), heading => "This link was already used",
            message => format!(
                "This link was already used: {} by {} on {}. {state}",
                used.action,
                used.by,
                used.at.format("%Y-%m-%d %H:%M UTC"),
            ),
            action => c.action.label(),
        },
    )
}

/// The page of a mention that is already where the link would put it (or past it).
fn already(c: &Checked, m: &StoredMention) -> Response {
    page(
        StatusCode::OK,
        context! {
            kind => "already", m => View::of(m), heading => "Nothing to do",
            message => format!("This mention is already {}.", state_line(&m.triage)),
            action => c.action.label(),
        },
    )
}

/// `GET /a/TOKEN`: what the link would do, and a button to do it. Changes nothing.
pub async fn confirm(State(state): State<WebState>, Path(token): Path<String>) -> Response {
    let c = match check(&state, token.clone()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(used) = &c.used {
        return used_page(&c, used, &c.mention);
    }
    let t = transition(c.action, &c.by, None);
    let mut probe = c.mention.triage.clone();
    if probe.apply(&c.mention.id, &t, Utc::now()).is_err() {
        return already(&c, &c.mention);
    }
    let now = match &c.mention.triage {
        t if t.is_untouched() => String::new(),
        t => format!("It is {}.", state_line(t)),
    };
    page(
        StatusCode::OK,
        context! {
            kind => "confirm", m => View::of(&c.mention), heading => question(c.action),
            message => now, token => token, button => c.action.label(), by => c.by,
            not_negative => c.action == AlertAction::NotNegative,
        },
    )
}

/// What the confirmation form sends.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    /// The link's token again: the POST is verified on its own.
    #[serde(default)]
    pub token: String,
    /// With "Not negative": `positive` or `neutral`.
    #[serde(default)]
    pub label: Option<String>,
}

/// `POST /a/TOKEN`: does what the link says, once.
pub async fn act(
    State(state): State<WebState>,
    Path(token): Path<String>,
    Form(f): Form<ActForm>,
) -> Response {
    if f.token != token {
        return refused(
            StatusCode::FORBIDDEN,
            "This link is not valid",
            "The form does not belong to this link. Open the link from the alert again.",
        );
    }
    let c = match check(&state, f.token).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Some(used) = &c.used {
        return used_page(&c, used, &c.mention);
    }
    // claimed before acting: of two clicks at once, one acts
    let mark = UsedLink {
        action: c.action.label().to_string(),
        by: c.by.clone(),
        at: Utc::now(),
        expires: c.claims.expires,
    };
    let store = state.store.clone();
    let (id, m2) = (c.id.clone(), mark.clone());
    match tokio::task::spawn_blocking(move || store.claim_link(&id, &m2)).await {
        Ok(Ok(None)) => {}
        Ok(Ok(Some(used))) => return used_page(&c, &used, &c.mention),
        Ok(Err(e)) => {
            tracing::error!("an action link cannot be marked used: {e}");
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This link cannot be used now",
                "See the daemon's log; open the inbox to act on the mention.",
            );
        }
        Err(e) => {
            return refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This link cannot be used now",
                &e.to_string(),
            )
        }
    }
    let t = transition(c.action, &c.by, f.label.as_deref());
    let result = apply(&state, c.claims.mention.clone(), t).await;
    if result.is_err() {
        // nothing changed: the link still works later
        let store = state.store.clone();
        let id = c.id.clone();
        let released = tokio::task::spawn_blocking(move || store.release_link(&id, &mark)).await;
        if !matches!(released, Ok(Ok(()))) {
            tracing::warn!("an action link that changed nothing stays marked used");
        }
    }
    let store = state.store.clone();
    let id = c.claims.mention.clone();
    let now = tokio::task::spawn_blocking(move || store.get_stored(&id)).await;
    let Ok(Ok(Some(m))) = now else {
        return refused(
            StatusCode::NOT_FOUND,
            "This mention is gone",
            "It is no longer stored.",
        );
    };
    match result {
        Ok(()) => page(
            StatusCode::OK,
            context! {
                kind => "done", m => View::of(&m), heading => "Done",
                message => format!("This mention is now {}.", state_line(&m.triage)),
            },
        ),
        Err((StatusCode::CONFLICT, _)) => already(&c, &m),
        Err((status, why)) => refused(status, "This cannot be done", &why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_compiles_and_escapes() {
        let html = env()
            .get_template("act.html")
            .unwrap()
            .render(context! {
                kind => "confirm", heading => "Mark this mention resolved?",
                m => context! { brand => "Acme", source => "rss", excerpt => "<script>x</script>" },
                token => "abc.def", button => "Resolved",
            })
            .unwrap();
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>x"));
        assert!(html.contains(r#"name="token" value="abc.def""#), "{html}");
        assert!(html.contains(r#"method="post""#));
    }

    #[test]
    fn links_act_via_email_and_keep_a_correction_label() {
        let t = transition(AlertAction::NotNegative, "dana", Some("positive"));
        assert_eq!(t.action, Action::Dismiss(DismissReason::NotNegative));
        assert_eq!(t.via, Via::Email);
        assert_eq!(t.corrected.as_deref(), Some("positive"));
        assert_eq!(
            transition(AlertAction::NotNegative, "d", Some("x")).corrected,
            None
        );
        assert_eq!(
            transition(AlertAction::Take, "d", Some("positive")).corrected,
            None
        );
        assert_eq!(transition(AlertAction::Take, "d", None).action, Action::Ack);
    }
}
