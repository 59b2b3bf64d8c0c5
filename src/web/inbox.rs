//! `/`: the inbox. Newest first, filtered by status (default: open, i.e. new and
//! acknowledged), sentiment (default: negative), brand, source, assignee and time;
//! one row per mention with its matched terms highlighted, its age, source and
//! sentiment; per-row actions and bulk actions (`POST /bulk`); open negatives per
//! brand in the header. The keyboard (j/k, a, r, d, x, o, /) is `static/inbox.js`.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Authed;
use super::mention::{apply, transition, ActionForm, REASONS};
use super::page::{back_to, blocking};
use super::view::MentionView;
use super::WebState;
use crate::search::{After, Search, SearchQuery};
use crate::store::api::{list_page, Cursor};
use crate::store::{MentionFilter, Status, Store, StoreError, StoredMention};

/// Rows per page.
pub const PAGE: usize = 50;

/// The filters, as the query string carries them (empty: no filter).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct InboxQuery {
    /// `open` (default), `new`, `acknowledged`, `resolved`, `dismissed`, `all`.
    pub status: Option<String>,
    /// `negative` (default), another label, or `all`.
    pub sentiment: Option<String>,
    pub brand: Option<String>,
    pub source: Option<String>,
    pub assignee: Option<String>,
    /// `1d`, `7d`, `30d`, `90d` or empty (all time).
    pub since: Option<String>,
    /// After this mention (the "older" link: a cursor as `/api/mentions` gives one,
    /// post time and id, so that mentions of the same millisecond are all shown).
    pub before: Option<String>,
    /// Full-text search (the syntax of `overhear mentions search`).
    pub q: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "all")
        .map(str::to_string)
}

impl InboxQuery {
    fn statuses(&self) -> Vec<Option<Status>> {
        match self.status.as_deref().map(str::trim).unwrap_or("open") {
            "" | "open" => vec![Some(Status::New), Some(Status::Acknowledged)],
            "all" => vec![None],
            s => Status::ALL
                .into_iter()
                .find(|x| x.as_str() == s)
                .map_or_else(
                    || vec![Some(Status::New), Some(Status::Acknowledged)],
                    |x| vec![Some(x)],
                ),
        }
    }

    fn filter(&self, now: DateTime<Utc>) -> MentionFilter {
        let sentiment = match self.sentiment.as_deref().map(str::trim) {
            None | Some("") => Some("negative".to_string()),
            Some("all") => None,
            Some(s) => Some(s.to_string()),
        };
        let since = self
            .since
            .as_deref()
            .and_then(|s| crate::util::duration::parse(s).ok())
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .and_then(|d| now.checked_sub_signed(d));
        MentionFilter {
            brand: nonempty(&self.brand),
            sentiment,
            source: nonempty(&self.source),
            since,
            until: None,
            status: None,
            assignee: nonempty(&self.assignee),
            limit: Some(PAGE.saturating_add(1)),
        }
    }
}

/// Why the rows could not be read.
#[derive(Debug, thiserror::Error)]
enum RowsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A search the user can fix (a syntax error) or that is unavailable.
    #[error("{0}")]
    Search(String),
}

/// Newest first, at most `PAGE + 1`, over every status asked for; through the
/// full-text index when `q.q` is given.
fn rows(
    store: &Store,
    search: Option<&Search>,
    q: &InboxQuery,
    now: DateTime<Utc>,
) -> Result<Vec<StoredMention>, RowsError> {
    let base = q.filter(now);
    let cursor = q.before.as_deref().and_then(Cursor::parse);
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let mut all = Vec::new();
    for status in q.statuses() {
        let f = MentionFilter {
            status,
            ..base.clone()
        };
        match (text, search) {
            (None, _) => {
                let (rows, _) = list_page(store, f, PAGE.saturating_add(1), cursor.as_ref())?;
                all.extend(rows);
            }
            (Some(t), Some(s)) => {
                let mut sq = SearchQuery::new(t, &f);
                sq.after = cursor.as_ref().map(|c| After {
                    ms: c.ms,
                    id: c.id.clone(),
                });
                let page = s
                    .page(store, &sq)
                    .map_err(|e| RowsError::Search(e.to_string()))?;
                all.extend(page.mentions);
            }
            (Some(_), None) => {
                return Err(RowsError::Search(
                    "full-text search is unavailable: the search index could not be opened (see the daemon's log; `overhear db reindex` rebuilds it)".into(),
                ))
            }
        }
    }
    // newest first, as the index scans: time, then id
    all.sort_by(|a, b| {
        b.mention
            .post
            .created_at
            .timestamp_millis()
            .cmp(&a.mention.post.created_at.timestamp_millis())
            .then(b.id.cmp(&a.id))
    });
    all.truncate(PAGE.saturating_add(1));
    Ok(all)
}

#[derive(Serialize)]
struct BrandCount {
    brand: String,
    open: u64,
}

/// Open negatives of each brand (new and acknowledged), from the store's counters.
fn count_now(store: &Store, brands: &[String]) -> Result<Vec<BrandCount>, StoreError> {
    brands
        .iter()
        .map(|b| {
            let mut open = 0u64;
            for s in [Status::New, Status::Acknowledged] {
                open = open.saturating_add(store.count_in(s, "negative", Some(b))?);
            }
            Ok(BrandCount {
                brand: b.clone(),
                open,
            })
        })
        .collect()
}

/// The query string of `q` with `before` set (the "older" link).
fn query_string(q: &InboxQuery, before: Option<&str>) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let mut pair = |k: &str, v: &Option<String>| {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    };
    pair("status", &q.status);
    pair("sentiment", &q.sentiment);
    pair("brand", &q.brand);
    pair("source", &q.source);
    pair("assignee", &q.assignee);
    pair("since", &q.since);
    pair("q", &q.q);
    if let Some(b) = before.filter(|b| !b.is_empty()) {
        s.append_pair("before", b);
    }
    s.finish()
}

/// `GET /`
pub async fn show(
    State(state): State<WebState>,
    authed: Authed,
    Query(q): Query<InboxQuery>,
) -> Response {
    let store = state.store.clone();
    let brands = state.brands.clone();
    let search = state.search.clone();
    let query = q.clone();
    let now = Utc::now();
    let found = blocking(&state.pages, move || {
        let counts = count_now(&store, &brands)?;
        Ok::<_, StoreError>((rows(&store, search.as_ref(), &query, now), counts))
    })
    .await;
    let (found, counts) = match found {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (mut found, problem) = match found {
        Ok(rows) => (rows, None),
        Err(RowsError::Search(why)) => (Vec::new(), Some(why)),
        Err(e) => {
            return state
                .pages
                .error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
    };
    let more = found.len() > PAGE;
    found.truncate(PAGE);
    let older = more
        .then(|| {
            found
                .last()
                .map(|m| query_string(&q, Some(&Cursor::of(m).encode())))
        })
        .flatten();
    let views: Vec<MentionView> = found
        .iter()
        .map(|m| MentionView {
            overdue: (state.overdue)(m, now),
            ..MentionView::of(m, now, false)
        })
        .collect();
    let mut replies = super::reply::by_mention(&state);
    let reply_boxes: Vec<Option<super::reply::ReplyBox>> = found
        .iter()
        .map(|m| {
            let mine = replies.remove(&m.id).unwrap_or_default();
            super::reply::reply_box(state.replies.as_ref(), m, &mine, authed.user())
        })
        .collect();
    let here = {
        let qs = query_string(&q, q.before.as_deref());
        if qs.is_empty() {
            "/".to_string()
        } else {
            format!("/?{qs}")
        }
    };
    state.pages.render(
        "inbox.html",
        minijinja::context! {
            user => authed.user(), csrf => &authed.session.csrf,
            rows => views, replies => reply_boxes, counts => counts, brands => &*state.brands,
            q => &q, older => older, back => here, reasons => REASONS, problem => problem,
            statuses => ["open", "new", "acknowledged", "resolved", "dismissed", "all"],
            sentiments => ["negative", "neutral", "positive", "all"],
            spans => [("", "any time"), ("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days")],
        },
    )
}

/// `POST /bulk`: `csrf`, `action`, `ids` (repeated), `reason`, `back`.
pub async fn bulk(State(state): State<WebState>, authed: Authed, body: Bytes) -> Response {
    let mut form = ActionForm::default();
    let mut ids = Vec::new();
    let mut action = String::new();
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "csrf" => form.csrf = v.into_owned(),
            "ids" => ids.push(v.into_owned()),
            "action" => action = v.into_owned(),
            "reason" => form.reason = Some(v.into_owned()),
            "note" => form.note = Some(v.into_owned()),
            "back" => form.back = Some(v.into_owned()),
            _ => {}
        }
    }
    if let Some(r) = authed.refuse_bad_csrf(&state, &form.csrf) {
        return r;
    }
    if ids.is_empty() {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "Select mentions first (x, or the boxes).",
        );
    }
    let t = match transition(&action, &form, authed.user()) {
        Ok(t) => t,
        Err(e) => return state.pages.error(StatusCode::BAD_REQUEST, &e),
    };
    let mut refused = Vec::new();
    for id in ids.into_iter().take(PAGE * 4) {
        if let Err((_, why)) = apply(&state, id, t.clone()).await {
            refused.push(why);
        }
    }
    if refused.is_empty() {
        back_to(form.back.as_deref())
    } else {
        state.pages.error(
            StatusCode::CONFLICT,
            &format!("Some changes were not made: {}", refused.join("; ")),
        )
    }
}
