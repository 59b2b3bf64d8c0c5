//! The reply routes of the local API (behind the same token as every route):
//! `POST /api/replies` writes one (201 with the reply), `GET /api/replies/ID` says
//! where it is, `POST /api/replies/ID/{approve|retry|drop}` acts on it. A refusal
//! (the account cannot answer, the text is too long, not a draft) is 409 with the
//! reason; an unknown mention or reply 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::ApiState;
use crate::reply::api::{checked_by, ActRequest, WriteRequest};
use crate::reply::ReplyError;

fn refusal(e: ReplyError) -> Response {
    let status = match &e {
        ReplyError::NoMention(_) | ReplyError::NoReply(_) => StatusCode::NOT_FOUND,
        ReplyError::NoAccount(_) | ReplyError::Refused(_) => StatusCode::CONFLICT,
        ReplyError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, format!("{e}\n")).into_response()
}

fn internal(e: impl std::fmt::Display) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response()
}

pub(super) async fn write(State(s): State<ApiState>, Json(req): Json<WriteRequest>) -> Response {
    let desk = s.replies.clone();
    let done = tokio::task::spawn_blocking(move || {
        let r = desk.get();
        let store = r.store();
        let id = store
            .resolve(&req.mention)
            .map_err(ReplyError::Store)?
            .ok_or_else(|| ReplyError::NoMention(req.mention.clone()))?;
        let w = req.into_write(id).map_err(ReplyError::Refused)?;
        r.write(w, chrono::Utc::now())
    })
    .await;
    match done {
        Ok(Ok(rec)) => (StatusCode::CREATED, Json(rec)).into_response(),
        Ok(Err(e)) => refusal(e),
        Err(e) => internal(e),
    }
}

pub(super) async fn show(State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let desk = s.replies.clone();
    match tokio::task::spawn_blocking(move || desk.get().store().reply(&id)).await {
        Ok(Ok(Some(rec))) => Json(rec).into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "no such reply\n").into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

pub(super) async fn act(
    State(s): State<ApiState>,
    Path((id, action)): Path<(String, String)>,
    Json(req): Json<ActRequest>,
) -> Response {
    let desk = s.replies.clone();
    let done = tokio::task::spawn_blocking(move || {
        let by = checked_by(&req.by).map_err(ReplyError::Refused)?;
        let r = desk.get();
        match action.as_str() {
            "approve" => r.approve(&id, &by, req.text),
            "retry" => r.retry(&id, &by),
            "drop" => r.drop_reply(&id, &by),
            other => Err(ReplyError::Refused(format!(
                "{other:?} is not an action (approve, retry, drop)"
            ))),
        }
    })
    .await;
    match done {
        Ok(Ok(rec)) => Json(rec).into_response(),
        Ok(Err(e)) => refusal(e),
        Err(e) => internal(e),
    }
}
