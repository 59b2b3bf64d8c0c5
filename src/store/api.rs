//! The daemon's API for the CLI over the store: three GET routes that read, one POST
//! route that changes a mention's triage state.
//!
//! - `GET /api/mentions?brand=&sentiment=&source=&status=&assignee=&since=RFC3339&until=RFC3339&limit=N&cursor=C`:
//!   one page, newest first: `{"mentions": [StoredMention...], "next_cursor": C | null}`.
//!   `limit` defaults to [`DEFAULT_PAGE`] and is capped at [`MAX_PAGE`]; pass
//!   `next_cursor` back as `cursor` (same filters) for the next page. A cursor is
//!   opaque; a malformed one is a 400.
//!   With `q=QUERY` (the [`crate::search`] syntax), the page holds the mentions the
//!   full-text index finds, with the other filters too, in the same JSON and with
//!   the same cursors; `sort=relevance` ranks them instead (one page, no cursor).
//!   A query syntax error is a 400 naming the column; 503 when the daemon has no
//!   search index.
//! - `GET /api/mentions/{id}`: one [`StoredMention`] (the id may also be a post id or
//!   URL); 404 if none.
//! - `GET /api/stats?brand=&since=RFC3339&by=day|week`: JSON array of [`StatsRow`].
//! - `GET /api/stats/responses?brand=&since=RFC3339`: JSON array of [`ResponseRow`]
//!   (how fast the brand answered negative mentions in public).
//! - `POST /api/mentions/{id}/{ack|resolve|dismiss|reopen}` with a JSON
//!   [`TriageRequest`] (`{"by": "dana", "note": "...", "reason": "not-relevant"}`):
//!   the mention as it is after the change; 404 if there is no such mention, 409 if
//!   the change cannot be made from its state (or it is already there), 400 for a
//!   malformed request. Recorded as made `via` `api` (the default) or `cli`.
//!
//! These routes check nothing about the caller: the daemon wraps them in its access
//! guard (token, Host, cross-site POSTs) before it serves them.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::search::{After, Order, Search, SearchError, SearchQuery};

use super::{
    keys, Action, Bucket, DismissReason, MentionFilter, ResponseRow, StatsRow, Status, Store,
    StoreError, StoredMention, Transition, TriageError, Via,
};

/// Mentions per page when the request names no `limit`.
pub const DEFAULT_PAGE: usize = 50;
/// The most mentions one page holds, whatever `limit` asks.
pub const MAX_PAGE: usize = 1000;

/// Query parameters of `/api/mentions`: a [`MentionFilter`]'s fields by name, and the
/// cursor of the page to read. An empty value filters nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    pub brand: Option<String>,
    pub sentiment: Option<String>,
    pub source: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub status: Option<Status>,
    pub assignee: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// A full-text query: search instead of listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// With `q`: `newest` (the default) or `relevance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<Order>,
}

impl ListQuery {
    /// The query for one page of `f`'s mentions.
    pub fn page(f: &MentionFilter, limit: usize, cursor: Option<String>) -> Self {
        ListQuery {
            brand: f.brand.clone(),
            sentiment: f.sentiment.clone(),
            source: f.source.clone(),
            since: f.since,
            until: f.until,
            status: f.status,
            assignee: f.assignee.clone(),
            limit: Some(limit),
            cursor,
            q: None,
            sort: None,
        }
    }
}

/// One page of `/api/mentions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MentionPage {
    pub mentions: Vec<StoredMention>,
    /// Where the next page starts; `None` when this one is the last.
    pub next_cursor: Option<String>,
}

/// Query parameters of `/api/stats`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsQuery {
    pub brand: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub by: Option<Bucket>,
}

/// The body of `POST /api/mentions/{id}/{action}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageRequest {
    /// Who makes the change (a user name).
    pub by: String,
    /// `api` (the default) or `cli`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Required by `dismiss`, refused by the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DismissReason>,
    /// With `dismiss` and reason `not-negative`: the label it should have had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrected: Option<String>,
}

impl TriageRequest {
    /// The body that asks for `t`.
    pub fn of(t: &Transition) -> TriageRequest {
        TriageRequest {
            by: t.by.clone(),
            via: Some(t.via),
            note: t.note.clone(),
            reason: match t.action {
                Action::Dismiss(r) => Some(r),
                _ => None,
            },
            corrected: t.corrected.clone(),
        }
    }

    /// The change this body asks for under the route's `verb`.
    pub fn transition(self, verb: &str) -> Result<Transition, String> {
        let action = match (verb, self.reason) {
            ("ack", None) => Action::Ack,
            ("resolve", None) => Action::Resolve,
            ("reopen", None) => Action::Reopen,
            ("dismiss", Some(r)) => Action::Dismiss(r),
            ("dismiss", None) => {
                return Err("dismiss needs a reason: not-relevant, not-negative, spam or                             duplicate"
                    .into())
            }
            ("ack" | "resolve" | "reopen", Some(_)) => {
                return Err(format!("{verb} takes no reason (only dismiss does)"))
            }
            _ => return Err(format!("no action {verb:?}: ack, resolve, dismiss or reopen")),
        };
        let via = match self.via.unwrap_or(Via::Api) {
            v @ (Via::Api | Via::Cli) => v,
            _ => return Err("via must be api or cli".into()),
        };
        Ok(Transition {
            action,
            by: self.by,
            via,
            note: self.note,
            corrected: self.corrected,
        })
    }
}

/// The routes, ready to be merged into the daemon's router (no full-text search:
/// `q` answers 503).
pub fn api_router(store: Store) -> Router {
    api_router_with_search(store, None)
}

/// The routes with full-text search (`q`) through `search`; triage changes made
/// through them refresh the mention's document.
pub fn api_router_with_search(store: Store, search: Option<Search>) -> Router {
    Router::new()
        .route("/api/mentions", get(list))
        .route("/api/mentions/:id", get(show))
        .route("/api/mentions/:id/:action", post(change))
        .route("/api/stats", get(stats))
        .route("/api/stats/responses", get(responses))
        .with_state(Ctx { store, search })
}

#[derive(Clone)]
struct Ctx {
    store: Store,
    search: Option<Search>,
}

enum ApiError {
    Store(String),
    BadRequest(&'static str),
    Refused(StatusCode, String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Triage(t) => {
                let status = match &t {
                    TriageError::NoMention(_) => StatusCode::NOT_FOUND,
                    TriageError::Invalid { .. } | TriageError::Already { .. } => {
                        StatusCode::CONFLICT
                    }
                    TriageError::Input(_) => StatusCode::BAD_REQUEST,
                };
                ApiError::Refused(status, t.to_string())
            }
            e => ApiError::Store(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Store(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
            ApiError::BadRequest(e) => (StatusCode::BAD_REQUEST, e).into_response(),
            ApiError::Refused(s, e) => (s, e).into_response(),
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Store(format!("store task failed: {e}")))?
}

/// Where a page starts: just after the index key (post time in ms, id) of the last
/// mention of the page before. Index keys are unique and scanned newest first, so a
/// walk by cursor sees every mention once, ties in the same millisecond included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub ms: i64,
    pub id: String,
}

impl Cursor {
    pub fn of(m: &StoredMention) -> Cursor {
        Cursor {
            ms: m.mention.post.created_at.timestamp_millis(),
            id: m.id.clone(),
        }
    }

    pub fn encode(&self) -> String {
        format!("v1.{}.{}", self.ms, self.id)
    }

    pub fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.split('.');
        let (Some("v1"), Some(ms), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let ms: i64 = ms.parse().ok()?;
        keys::is_id(id).then(|| Cursor {
            ms,
            id: id.to_string(),
        })
    }

    /// Does `m` come after this cursor in scan order (older, or as old with a
    /// smaller id)?
    fn before(&self, m: &StoredMention) -> bool {
        let ms = m.mention.post.created_at.timestamp_millis();
        ms < self.ms || (ms == self.ms && m.id.as_str() < self.id.as_str())
    }

    /// The exclusive upper time bound that keeps this cursor's millisecond.
    fn until(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.ms.checked_add(1)?)
    }
}

/// One page of `q`'s mentions (blocking: call it off the runtime).
fn read_page(
    store: &Store,
    search: Option<&Search>,
    q: ListQuery,
) -> Result<MentionPage, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    let cursor = match &q.cursor {
        Some(c) if !c.is_empty() => Some(Cursor::parse(c).ok_or(ApiError::BadRequest(
            "malformed cursor: pass back a next_cursor this API returned",
        ))?),
        _ => None,
    };
    let f = MentionFilter {
        brand: q.brand.filter(|s| !s.is_empty()),
        sentiment: q.sentiment.filter(|s| !s.is_empty()),
        source: q.source.filter(|s| !s.is_empty()),
        since: q.since,
        until: q.until,
        status: q.status,
        assignee: q.assignee.filter(|s| !s.is_empty()),
        limit: None,
    };
    if limit == 0 {
        return Ok(MentionPage::default());
    }
    if let Some(text) = q.q.filter(|t| !t.trim().is_empty()) {
        return search_page(
            store,
            search,
            &text,
            q.sort.unwrap_or_default(),
            f,
            limit,
            cursor,
        );
    }
    if cursor.as_ref().is_some_and(|c| c.until().is_none()) {
        return Err(ApiError::BadRequest("cursor out of range"));
    }
    let (mentions, more) = list_page(store, f, limit, cursor.as_ref())?;
    let next_cursor = match mentions.last() {
        Some(m) if more => Some(Cursor::of(m).encode()),
        _ => None,
    };
    Ok(MentionPage {
        mentions,
        next_cursor,
    })
}

/// Up to `limit` of `f`'s mentions after `cursor`, newest first, and whether more
/// follow (blocking). `f.limit` is ignored; a cursor beyond any time finds nothing.
pub fn list_page(
    store: &Store,
    mut f: MentionFilter,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<(Vec<StoredMention>, bool), StoreError> {
    if let Some(c) = cursor {
        let Some(bound) = c.until() else {
            return Ok((Vec::new(), false));
        };
        f.until = Some(f.until.map_or(bound, |u| u.min(bound)));
    }
    // One more than the page, to know whether another follows; rows of the cursor's
    // own millisecond that the last page already gave are read again and dropped.
    let mut want = limit.saturating_add(1);
    loop {
        f.limit = Some(want);
        let rows = store.list_stored(&f)?;
        let exhausted = rows.len() < want;
        let mut kept: Vec<StoredMention> = rows
            .into_iter()
            .filter(|m| cursor.map_or(true, |c| c.before(m)))
            .collect();
        if kept.len() > limit || exhausted {
            let more = kept.len() > limit;
            kept.truncate(limit);
            return Ok((kept, more));
        }
        want = want.saturating_mul(2);
    }
}

/// One page of a full-text search: the index finds, the store answers (see
/// [`crate::search::page`]).
fn search_page(
    store: &Store,
    search: Option<&Search>,
    text: &str,
    order: Order,
    f: MentionFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<MentionPage, ApiError> {
    let Some(search) = search else {
        return Err(ApiError::Refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "full-text search is not available: this daemon has no search index (its log says why)"
                .into(),
        ));
    };
    if order == Order::Relevance && cursor.is_some() {
        return Err(ApiError::BadRequest(
            "a cursor goes only with sort=newest (relevance gives one page)",
        ));
    }
    let mut sq = SearchQuery::new(text, &f);
    sq.limit = limit;
    sq.order = order;
    sq.after = cursor.map(|c| After { ms: c.ms, id: c.id });
    let page = search.page(store, &sq).map_err(|e| match e {
        SearchError::Syntax(s) => ApiError::Refused(StatusCode::BAD_REQUEST, s.to_string()),
        e => ApiError::Store(e.to_string()),
    })?;
    Ok(MentionPage {
        mentions: page.mentions,
        next_cursor: page.next.map(|a| Cursor { ms: a.ms, id: a.id }.encode()),
    })
}

async fn list(
    State(ctx): State<Ctx>,
    Query(q): Query<ListQuery>,
) -> Result<Json<MentionPage>, ApiError> {
    Ok(Json(
        blocking(move || read_page(&ctx.store, ctx.search.as_ref(), q)).await?,
    ))
}

async fn show(State(ctx): State<Ctx>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let store = ctx.store;
    let found = blocking(move || match store.resolve(&id)? {
        Some(id) => Ok(store.get_stored(&id)?),
        None => Ok(None),
    })
    .await?;
    Ok(match found {
        Some(m) => Json(m).into_response(),
        None => (StatusCode::NOT_FOUND, "no such mention").into_response(),
    })
}

async fn change(
    State(ctx): State<Ctx>,
    Path((id, verb)): Path<(String, String)>,
    Json(body): Json<TriageRequest>,
) -> Result<Json<StoredMention>, ApiError> {
    let t = body
        .transition(&verb)
        .map_err(|e| ApiError::Refused(StatusCode::BAD_REQUEST, e))?;
    let store = ctx.store;
    let m = blocking(move || {
        let found = store.resolve(&id)?;
        let id = found.ok_or(StoreError::Triage(TriageError::NoMention(id)))?;
        Ok(store.triage(&id, &t, Utc::now())?)
    })
    .await?;
    if let Some(s) = &ctx.search {
        s.changed([m.id.clone()]);
    }
    Ok(Json(m))
}

/// `GET /api/stats/responses?brand=&since=RFC3339` (default: 30 days).
async fn responses(
    State(ctx): State<Ctx>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Vec<ResponseRow>>, ApiError> {
    let brand = q.brand.filter(|s| !s.is_empty());
    let since = q
        .since
        .unwrap_or_else(|| Utc::now() - chrono::Duration::days(30));
    let store = ctx.store;
    let rows = blocking(move || Ok(store.responses(since, brand.as_deref())?)).await?;
    Ok(Json(rows))
}

async fn stats(
    State(ctx): State<Ctx>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Vec<StatsRow>>, ApiError> {
    let brand = q.brand.filter(|s| !s.is_empty());
    let by = q.by.unwrap_or_default();
    let store = ctx.store;
    let rows = blocking(move || Ok(store.stats(brand.as_deref(), q.since, by)?)).await?;
    Ok(Json(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = Cursor {
            ms: -5,
            id: "0123456789abcdef".into(),
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in [
            "",
            "garbage",
            "v1.1.nothex",
            "v2.1.0123456789abcdef",
            "v1.x.0123456789abcdef",
            "v1.1.0123456789abcdef.x",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
        let last = Cursor {
            ms: i64::MAX,
            id: "0123456789abcdef".into(),
        };
        assert_eq!(last.until(), None);
    }

    #[test]
    fn triage_requests_name_one_change_or_say_why_not() {
        let body = |reason: Option<DismissReason>, via: Option<Via>| TriageRequest {
            by: "dana".into(),
            via,
            reason,
            ..Default::default()
        };
        let t = body(None, None).transition("ack").unwrap();
        assert_eq!(
            (t.action, t.via, t.by.as_str()),
            (Action::Ack, Via::Api, "dana")
        );
        let spam = Some(DismissReason::Spam);
        let t = body(spam, Some(Via::Cli)).transition("dismiss").unwrap();
        assert_eq!(
            (t.action, t.via),
            (Action::Dismiss(DismissReason::Spam), Via::Cli)
        );
        assert_eq!(TriageRequest::of(&t).transition("dismiss"), Ok(t));
        for (b, verb) in [
            (body(None, None), "dismiss"),
            (body(spam, None), "resolve"),
            (body(None, None), "promote"),
            (body(None, Some(Via::Email)), "ack"),
        ] {
            assert!(b.transition(verb).is_err(), "{verb}");
        }
    }
}
