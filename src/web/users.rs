//! `/api/users`: what `overhear user add|list|remove|passwd` asks of a running daemon
//! (which holds the database). Behind the API's token like every `/api` route.
//!
//! - `GET /api/users`: `[{"name", "email", "created_at"}]` (never a hash);
//! - `POST /api/users` `{"name", "email", "password"}`: 201, or 409 (exists), 400;
//! - `POST /api/users/{name}/password` `{"password"}`: 200 `{"changed": true}`, 404, 400;
//! - `DELETE /api/users/{name}`: 200 `{"removed": true}` or 404.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::users::{User, UserError};
use crate::store::Store;

/// A user as listed: no password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserInfo {
    fn from(u: &User) -> Self {
        UserInfo {
            name: u.name.clone(),
            email: u.email.clone(),
            created_at: u.created_at,
        }
    }
}

/// `POST /api/users`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    pub password: String,
}

/// `POST /api/users/{name}/password`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub password: String,
}

fn refused(e: UserError) -> Response {
    let status = match &e {
        UserError::Exists(_) | UserError::EmailTaken(_) => StatusCode::CONFLICT,
        UserError::NotFound(_) => StatusCode::NOT_FOUND,
        UserError::BadName(_) | UserError::BadEmail(_) | UserError::WeakPassword => {
            StatusCode::BAD_REQUEST
        }
        UserError::Hash(_) | UserError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, format!("{e}\n")).into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UserError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(refused),
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()),
    }
}

async fn list(State(store): State<Store>) -> Response {
    match blocking(move || store.users()).await {
        Ok(users) => Json(users.iter().map(UserInfo::from).collect::<Vec<_>>()).into_response(),
        Err(r) => r,
    }
}

async fn add(State(store): State<Store>, Json(u): Json<NewUser>) -> Response {
    let done =
        blocking(move || store.add_user(&u.name, u.email.as_deref(), &u.password, Utc::now()))
            .await;
    match done {
        Ok(user) => (StatusCode::CREATED, Json(UserInfo::from(&user))).into_response(),
        Err(r) => r,
    }
}

async fn passwd(
    State(store): State<Store>,
    Path(name): Path<String>,
    Json(p): Json<NewPassword>,
) -> Response {
    match blocking(move || store.set_password(&name, &p.password)).await {
        Ok(()) => Json(serde_json::json!({"changed": true})).into_response(),
        Err(r) => r,
    }
}

async fn remove(State(store): State<Store>, Path(name): Path<String>) -> Response {
    match blocking(move || store.remove_user(&name)).await {
        Ok(()) => Json(serde_json::json!({"removed": true})).into_response(),
        Err(r) => r,
    }
}

/// The routes (the daemon guards them with its API token).
pub fn router(store: Store) -> Router {
    Router::new()
        .route("/api/users", get(list).post(add))
        .route("/api/users/:name/password", post(passwd))
        .route("/api/users/:name", delete(remove))
        .with_state(store)
}
